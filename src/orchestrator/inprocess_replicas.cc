// The hook that starts in-process replicas.
#include "src/orchestrator/inprocess_replicas.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/orchestrator/router_builder.h"

namespace shoal::orchestrator {
namespace {

absl::Mutex g_starter_mu;
InProcessStarter& Starter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(g_starter_mu) {
  static auto* const starter = new InProcessStarter();
  return *starter;
}

}  // namespace

void SetInProcessStarter(InProcessStarter starter) {
  absl::MutexLock lock(&g_starter_mu);
  Starter() = std::move(starter);
}

StatusOr<std::unique_ptr<InProcessReplicas>> StartInProcessReplicas(
    const config::DeploymentSpec& spec, const std::string& host,
    const std::function<std::string(int, int)>& workspace_of) {
  InProcessStarter starter;
  {
    absl::MutexLock lock(&g_starter_mu);
    starter = Starter();
  }
  if (!starter) {
    return absl::FailedPreconditionError(absl::StrCat(
        WhereWritten(spec, "inprocess"), "Deployment '", spec.name,
        "': inprocess: true needs a program that can run Executors inside itself: the `shoal` "
        "command can, a C++ program once it called shoal::EnableInProcessExecutors(); the "
        "Python package cannot (run the Flow with `shoal flow`, or drop inprocess)"));
  }
  return starter(spec, host, workspace_of);
}

}  // namespace shoal::orchestrator
