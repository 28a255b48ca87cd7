// The `shoal` subcommands. Each Add*Command adds its subcommand to `app` and returns it with the
// function that runs it (returning the exit code) once the command line has been parsed.
#ifndef SHOAL_CLI_COMMANDS_H_
#define SHOAL_CLI_COMMANDS_H_

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "src/common/tls_files.h"

namespace shoal::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command AddExecutorCommand(CLI::App& app);    // shoal executor --uses X --port P --name N
Command AddDeploymentCommand(CLI::App& app);  // shoal deployment --uses d.yml
Command AddFlowCommand(CLI::App& app);        // shoal flow --uses f.yml
Command AddGatewayCommand(CLI::App& app);     // shoal gateway --uses f.yml --deployments-...
Command AddPingCommand(CLI::App& app);        // shoal ping host:port
Command AddRaftCommand(CLI::App& app);        // shoal raft add|remove --id X --via a,b,c
Command AddPostCommand(CLI::App& app);        // shoal post host:port --on /x ...
Command AddExportCommand(CLI::App& app);      // shoal export kubernetes|docker-compose f.yml out
Command AddRolloutCommand(CLI::App& app);     // shoal rollout d.yml --pid PID

// The server-side security flags of `shoal executor` and `shoal gateway`: --ssl-certfile,
// --ssl-keyfile, --ssl-cafile (mTLS), --auth-token-file, --no-reflection.
void AddSecurityOptions(CLI::App* sub, TlsFiles* tls, std::string* auth_token_file,
                        bool* no_reflection);
// The caller-side flags of `shoal post|ping|raft`: --ssl-cafile (roots), --ssl-certfile and
// --ssl-keyfile (a client certificate), --auth-token-file.
void AddCallerOptions(CLI::App* sub, TlsFiles* tls, std::string* auth_token_file);

}  // namespace shoal::cli

#endif  // SHOAL_CLI_COMMANDS_H_
