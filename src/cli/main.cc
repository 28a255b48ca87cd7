// `shoal`: the command line. Parses the subcommand and hands over to it.
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "src/cli/commands.h"
#include "src/inprocess/replicas.h"
#if SHOAL_WITH_PYTHON
#include "src/python/embed.h"
#endif

int main(int argc, char** argv) {
  // absl's deadlock detection (on in Debian's build of absl) takes a global lock on every mutex
  // acquisition, which serializes the gateway's and the replica's threads. Tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#if SHOAL_WITH_PYTHON
  shoal::python::InstallPythonExecutors();
#endif
  shoal::inprocess::Install();  // inprocess: true in `shoal flow` and `shoal deployment`
  CLI::App app{"Shoal: serve and scale Executors over Jina's gRPC protocol", "shoal"};
  app.require_subcommand(1);
  std::vector<shoal::cli::Command> commands = {
      shoal::cli::AddExecutorCommand(app), shoal::cli::AddDeploymentCommand(app),
      shoal::cli::AddFlowCommand(app),     shoal::cli::AddGatewayCommand(app),
      shoal::cli::AddPingCommand(app),     shoal::cli::AddRaftCommand(app),
      shoal::cli::AddPostCommand(app),     shoal::cli::AddExportCommand(app),
      shoal::cli::AddRolloutCommand(app),
  };
  CLI11_PARSE(app, argc, argv);
  for (const shoal::cli::Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return 2;
}
