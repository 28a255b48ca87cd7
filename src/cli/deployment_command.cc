// `shoal deployment --uses d.yml`: runs a Deployment (its replicas and its gateway port) until
// SIGINT/SIGTERM, then drains and stops. Prints `ready port=<n>` once it serves.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "src/cli/commands.h"
#include "src/cli/reload.h"
#include "src/cli/signals.h"
#include "src/common/log.h"
#include "src/config/deployment_yaml.h"
#include "src/orchestrator/standalone.h"
#include "src/rpc/auth.h"

namespace shoal::cli {
namespace {

struct DeploymentFlags {
  std::string uses;
  std::optional<int> port;
  std::optional<std::string> host;
  int max_replicas = config::kDefaultMaxReplicas;
  std::string auth_token_file;
  std::string status_file;
};

// The Deployment's YAML with the command line over it, at the start and at each reload.
StatusOr<config::DeploymentSpec> LoadSpec(const DeploymentFlags& flags) {
  SHOAL_ASSIGN_OR_RETURN(config::DeploymentSpec spec, config::LoadDeploymentYaml(flags.uses));
  for (const std::string& warning : spec.warnings) SHOAL_LOG_WARNING("%s", warning);
  if (flags.port.has_value()) spec.port = *flags.port;
  if (spec.auth_token.empty()) {
    // No `auth_token` in the YAML: --auth-token-file, else env SHOAL_AUTH_TOKEN, else none.
    SHOAL_ASSIGN_OR_RETURN(spec.auth_token, rpc::LoadAuthToken(flags.auth_token_file));
  }
  return spec;
}

int RunDeployment(const DeploymentFlags& flags) {
  const int stop_signals = InstallStopSignals(/*reload=*/true);
  StatusOr<config::DeploymentSpec> spec = LoadSpec(flags);
  if (!spec.ok()) {
    SHOAL_LOG_ERROR("%s", spec.status().message());
    return 2;
  }
  SetLogName(spec->name);
  orchestrator::StandaloneDeployment::Options options;
  // The port listens on --host, else the Deployment's `host`, else on every interface (Jina).
  options.local.max_replicas = flags.max_replicas;
  options.gateway_host = flags.host.value_or(
      !spec->external && !spec->host.empty() ? spec->host.front() : std::string("0.0.0.0"));
  auto running = orchestrator::StandaloneDeployment::Start(*spec, options);
  if (!running.ok()) {
    SHOAL_LOG_ERROR("%s", running.status().message());
    return 1;
  }
  orchestrator::LocalDeployment& deployment = (*running)->deployment();
  Reloader reloader(flags.status_file.empty() ? DefaultStatusFile(getpid()) : flags.status_file,
                    [&flags, &deployment]() -> Status {
                      SHOAL_ASSIGN_OR_RETURN(config::DeploymentSpec reloaded, LoadSpec(flags));
                      return deployment.Update(reloaded);
                    });
  std::cout << "ready port=" << (*running)->port() << std::endl;
  int signal = WaitForStopSignal(stop_signals);
  for (; signal == SIGHUP; signal = WaitForStopSignal(stop_signals)) reloader.Request();
  SHOAL_LOG_INFO("got %s: draining", signal == SIGINT ? "SIGINT" : "SIGTERM");
  reloader.RequestStop();
  (*running)->Stop();
  reloader.Join();
  SHOAL_LOG_INFO("stopped");
  return 0;
}

}  // namespace

Command AddDeploymentCommand(CLI::App& app) {
  auto flags = std::make_shared<DeploymentFlags>();
  CLI::App* sub = app.add_subcommand("deployment", "Run a Deployment from its YAML");
  sub->add_option("--uses", flags->uses, "Deployment YAML")->required();
  sub->add_option("--port", flags->port, "Override the Deployment's port")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--host", flags->host, "Address the Deployment's port listens on");
  sub->add_option("--max-replicas", flags->max_replicas,
                  "Most replica processes (replicas x shards) the Deployment may start")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--auth-token-file", flags->auth_token_file,
                  "File whose first line is the token, when the YAML sets no auth_token "
                  "(default: env SHOAL_AUTH_TOKEN)");
  sub->add_option("--status-file", flags->status_file,
                  "Where the outcome of each SIGHUP reload is written, for `shoal rollout` "
                  "(default: $XDG_RUNTIME_DIR or /tmp, shoal-<pid>.status)");
  return {sub, [flags] { return RunDeployment(*flags); }};
}

}  // namespace shoal::cli
