// `shoal flow --uses f.yml`: runs a Flow (every Deployment and the gateway) until SIGINT/SIGTERM.
// `shoal gateway --uses f.yml --deployments-addresses JSON`: runs only the gateway, for
// Deployments that run elsewhere (what a Kubernetes gateway pod runs). Both print
// `ready port=<n>` (the first protocol's port) once they serve.
#include <unistd.h>

#include <climits>
#include <csignal>
#include <iostream>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "src/cli/commands.h"
#include "src/cli/reload.h"
#include "src/cli/signals.h"
#include "src/common/log.h"
#include "src/config/flow_yaml.h"
#include "src/orchestrator/local_flow.h"
#include "src/orchestrator/remote_flow.h"
#include "src/rpc/auth.h"

namespace shoal::cli {
namespace {

struct FlowFlags {
  std::string uses;
  std::optional<int> port;
  std::optional<std::string> host;
  std::string addresses;  // gateway only: {"name": ["host:port", ...]}
  std::optional<int> max_message_size;
  int max_replicas = config::kDefaultMaxReplicas;
  TlsFiles tls;  // the gateway's client-facing TLS (overrides ssl_certfile/keyfile)
  std::string auth_token_file;
  bool no_reflection = false;
  std::string status_file;  // flow only: SIGHUP reload outcomes
};

// The command line's security flags over the YAML's: TLS files, and the token from
// --auth-token-file or env SHOAL_AUTH_TOKEN for a Flow whose YAML sets none (a Kubernetes pod
// gets it from a Secret). Executors without a token of their own take the Flow's.
Status ApplySecurityFlags(const FlowFlags& flags, config::FlowSpec& spec) {
  if (flags.tls.enabled()) {
    if (flags.tls.certfile.empty() || flags.tls.keyfile.empty()) {
      return absl::InvalidArgumentError("--ssl-certfile and --ssl-keyfile go together");
    }
    spec.ssl_certfile = flags.tls.certfile;
    spec.ssl_keyfile = flags.tls.keyfile;
    spec.ssl_cafile = flags.tls.cafile;
  }
  if (spec.auth_token.empty()) {
    SHOAL_ASSIGN_OR_RETURN(spec.auth_token, rpc::LoadAuthToken(flags.auth_token_file));
  }
  if (flags.no_reflection) spec.reflection = false;
  for (config::DeploymentSpec& executor : spec.executors) {
    if (executor.auth_token.empty()) executor.auth_token = spec.auth_token;
    if (flags.no_reflection) executor.reflection = false;
  }
  return config::ValidateFlowSpec(spec);
}

// Every Executor becomes external, at the addresses given for it.
Status UseAddresses(config::FlowSpec& spec, const std::string& json) {
  google::protobuf::Struct addresses;
  if (!google::protobuf::util::JsonStringToMessage(json, &addresses).ok()) {
    return absl::InvalidArgumentError(
        "--deployments-addresses is not a JSON object of name -> [\"host:port\", ...] (or a "
        "list of such lists, one per shard)");
  }
  for (config::DeploymentSpec& executor : spec.executors) {
    auto it = addresses.fields().find(executor.name);
    if (it == addresses.fields().end()) {
      if (executor.external) continue;
      return absl::InvalidArgumentError("--deployments-addresses has no address for Executor '" +
                                        executor.name + "'");
    }
    executor.external = true;
    executor.host.clear();
    executor.shard_hosts.clear();
    executor.external_ports.clear();
    executor.shards = 1;
    const auto& values = it->second.list_value().values();
    if (!values.empty() && values[0].has_list_value()) {
      // A list per shard: [["shard-0 replica", ...], ["shard-1 replica", ...]].
      for (const google::protobuf::Value& shard : values) {
        executor.shard_hosts.emplace_back();
        for (const google::protobuf::Value& v : shard.list_value().values()) {
          executor.shard_hosts.back().push_back(v.string_value());
        }
      }
      executor.shards = static_cast<int>(executor.shard_hosts.size());
      executor.replicas = 1;
      continue;
    }
    for (const google::protobuf::Value& v : values) executor.host.push_back(v.string_value());
    if (it->second.has_string_value()) executor.host.push_back(it->second.string_value());
    executor.replicas = static_cast<int>(executor.host.size());
  }
  return absl::OkStatus();
}

// Prints `ready port=<n>` once `running` serves, and stops it at SIGINT/SIGTERM.
template <typename RunningFlow>
int Serve(StatusOr<std::unique_ptr<RunningFlow>> running, int stop_signals) {
  if (!running.ok()) {
    SHOAL_LOG_ERROR("%s", running.status().message());
    return 1;
  }
  std::cout << "ready port=" << (*running)->ports().front() << std::endl;
  int signal = WaitForStopSignal(stop_signals);
  SHOAL_LOG_INFO("got %s: draining", signal == SIGINT ? "SIGINT" : "SIGTERM");
  (*running)->Stop();
  SHOAL_LOG_INFO("stopped");
  return 0;
}

// The Flow's YAML with the command line over it, at the start and at each reload.
StatusOr<config::FlowSpec> LoadSpec(const FlowFlags& flags, bool gateway_only) {
  SHOAL_ASSIGN_OR_RETURN(config::FlowSpec spec, config::LoadFlowYaml(flags.uses));
  for (const std::string& warning : spec.warnings) SHOAL_LOG_WARNING("%s", warning);
  for (const config::DeploymentSpec& executor : spec.executors) {
    for (const std::string& warning : executor.warnings) SHOAL_LOG_WARNING("%s", warning);
  }
  if (gateway_only) SHOAL_RETURN_IF_ERROR(UseAddresses(spec, flags.addresses));
  if (flags.port.has_value()) {
    if (spec.ports.empty()) spec.ports.resize(spec.protocols.size(), 0);
    spec.ports[0] = *flags.port;
  }
  if (flags.host.has_value()) spec.host = *flags.host;
  if (flags.max_message_size.has_value()) {
    spec.grpc_server_limits.max_receive_message_bytes = *flags.max_message_size;
  }
  SHOAL_RETURN_IF_ERROR(ApplySecurityFlags(flags, spec));
  return spec;
}

// Serves a Flow of local Deployments; SIGHUP reloads the YAML and updates the Executors that
// changed, one at a time.
int ServeLocal(const FlowFlags& flags, const config::FlowSpec& spec, int stop_signals) {
  orchestrator::LocalFlow::Options options;
  options.local.max_replicas = flags.max_replicas;
  StatusOr<std::unique_ptr<orchestrator::LocalFlow>> running =
      orchestrator::LocalFlow::Start(spec, options);
  if (!running.ok()) {
    SHOAL_LOG_ERROR("%s", running.status().message());
    return 1;
  }
  orchestrator::LocalFlow& flow = **running;
  Reloader reloader(flags.status_file.empty() ? DefaultStatusFile(getpid()) : flags.status_file,
                    [&flags, &flow]() -> Status {
                      SHOAL_ASSIGN_OR_RETURN(config::FlowSpec reloaded,
                                             LoadSpec(flags, /*gateway_only=*/false));
                      return flow.UpdateExecutors(reloaded);
                    });
  std::cout << "ready port=" << flow.ports().front() << std::endl;
  int signal = WaitForStopSignal(stop_signals);
  for (; signal == SIGHUP; signal = WaitForStopSignal(stop_signals)) reloader.Request();
  SHOAL_LOG_INFO("got %s: draining", signal == SIGINT ? "SIGINT" : "SIGTERM");
  reloader.RequestStop();
  flow.Stop();
  reloader.Join();
  SHOAL_LOG_INFO("stopped");
  return 0;
}

int RunFlow(const FlowFlags& flags, bool gateway_only) {
  const int stop_signals = InstallStopSignals(/*reload=*/!gateway_only);
  StatusOr<config::FlowSpec> spec = LoadSpec(flags, gateway_only);
  if (!spec.ok()) {
    SHOAL_LOG_ERROR("%s", spec.status().message());
    return 2;
  }
  SetLogName(spec->name);
  if (gateway_only) {
    return Serve(orchestrator::RemoteFlow::Start(
                     *spec, orchestrator::RemoteFlow::Options{.max_replicas = flags.max_replicas}),
                 stop_signals);
  }
  return ServeLocal(flags, *spec, stop_signals);
}

void AddCommonFlags(CLI::App* sub, FlowFlags& flags) {
  sub->add_option("--uses", flags.uses, "Flow YAML")->required();
  sub->add_option("--port", flags.port, "Override the gateway's (first) port")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--host", flags.host, "Address the gateway listens on");
  sub->add_option("--max-message-size", flags.max_message_size,
                  "Largest request in bytes the gRPC gateway takes; larger ones are refused with "
                  "RESOURCE_EXHAUSTED (default 64 MiB; -1: no limit; YAML with: "
                  "grpc_server_options: grpc.max_receive_message_length)")
      ->check(CLI::Range(-1, INT_MAX));
  AddSecurityOptions(sub, &flags.tls, &flags.auth_token_file, &flags.no_reflection);
}

}  // namespace

Command AddFlowCommand(CLI::App& app) {
  auto flags = std::make_shared<FlowFlags>();
  CLI::App* sub = app.add_subcommand("flow", "Run a Flow from its YAML");
  AddCommonFlags(sub, *flags);
  sub->add_option("--max-replicas", flags->max_replicas,
                  "Most replica processes (replicas x shards) each Executor may start")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--status-file", flags->status_file,
                  "Where the outcome of each SIGHUP reload is written, for `shoal rollout` "
                  "(default: $XDG_RUNTIME_DIR or /tmp, shoal-<pid>.status)");
  return {sub, [flags] { return RunFlow(*flags, /*gateway_only=*/false); }};
}

Command AddGatewayCommand(CLI::App& app) {
  auto flags = std::make_shared<FlowFlags>();
  CLI::App* sub = app.add_subcommand("gateway", "Run a Flow's gateway for remote Deployments");
  AddCommonFlags(sub, *flags);
  sub->add_option("--deployments-addresses", flags->addresses,
                  "JSON: Executor name -> [\"host:port\", ...], or one such list per shard; "
                  "dns:///name:port stands for every address of name, followed over time")
      ->required();
  return {sub, [flags] { return RunFlow(*flags, /*gateway_only=*/true); }};
}

}  // namespace shoal::cli
