// `shoal executor`: serves one replica of an Executor until SIGINT/SIGTERM. This is what the
// orchestrator and containers run. Prints `ready port=<n>` on stdout once it serves.
#include <sys/prctl.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "src/cli/commands.h"
#include "src/cli/signals.h"
#include "src/common/exit_codes.h"
#include "src/common/log.h"
#include "src/config/dynamic_batching.h"
#include "src/executor/loader.h"
#include "src/metrics/exposer.h"
#include "src/replica/batcher.h"
#include "src/replica/runtime.h"
#include "src/replica/server.h"
#include "src/replica/stateful.h"
#include "src/rpc/auth.h"
#include "src/rpc/membership_client.h"
#include "src/rpc/server.h"
#include "src/rpc/tls.h"

namespace shoal::cli {
namespace {

struct ExecutorFlags {
  std::string uses;
  std::string uses_with = "{}";
  std::string uses_dynamic_batching;  // JSON: endpoint -> options
  std::string name = "executor";
  std::string host = "0.0.0.0";
  int port = 0;
  std::optional<int> port_monitoring;
  std::string workspace;
  int shutdown_timeout_ms = 10000;
  int max_queued = 0;
  int max_message_size = replica::kDefaultMaxReceiveMessageBytes;
  int64_t max_grpc_memory = rpc::kDefaultMaxMemoryBytes;
  int max_send_message_size = -1;
  int max_docs_per_request = replica::kDefaultMaxDocsPerRequest;
  // Stateful replicas (Raft).
  bool stateful = false;
  std::string raft_id;
  std::string raft_address;
  std::string raft_advertise;
  std::string raft_peers;  // id=host:port,id=host:port
  std::string raft_join;   // gRPC host:port of members of a running cluster
  std::string raft_configuration = "{}";
  std::string read_consistency = "eventual";
  int timeout_ready_ms = 600000;
  bool raft_reset_state = false;
  std::string raft_tls_certfile;
  std::string raft_tls_keyfile;
  std::string raft_tls_cafile;
  // Security.
  TlsFiles tls;  // --ssl-certfile/--ssl-keyfile serve TLS; --ssl-cafile requires client certs
  std::string auth_token_file;
  bool no_reflection = false;
};

// How this replica calls the other members of its group (joining): with its own certificate
// and CA when it serves TLS, and with its token.
rpc::ChannelSecurity MemberSecurity(const ExecutorFlags& flags, const std::string& token) {
  return rpc::ChannelSecurity{
      .tls = !flags.tls.certfile.empty(), .files = flags.tls, .auth_token = token};
}

// Under an orchestrator (env SHOAL_PARENT_PID), dies with it even after kill -9 of the parent.
void DieWithParent() {
  const char* parent = std::getenv("SHOAL_PARENT_PID");
  if (parent == nullptr) return;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != std::atoi(parent)) _exit(1);  // the parent died before prctl took effect
}

// Sets *joining when this member is to join a running group through --raft-join.
StatusOr<std::unique_ptr<replica::StatefulReplica>> StartStateful(const ExecutorFlags& flags,
                                                                  replica::ReplicaRuntime* runtime,
                                                                  bool* joining) {
  if (flags.workspace.empty()) {
    return absl::InvalidArgumentError("--stateful needs --workspace (the Raft log lives there)");
  }
  if (flags.raft_address.empty()) {
    return absl::InvalidArgumentError("--stateful needs --raft-address host:port");
  }
  replica::StatefulReplica::Options options;
  options.id = flags.raft_id.empty() ? flags.name : flags.raft_id;
  options.address = flags.raft_address;
  options.advertise = flags.raft_advertise;
  options.data_dir = (std::filesystem::path(flags.workspace) / "raft").string();
  if (flags.raft_reset_state && std::filesystem::exists(options.data_dir)) {
    SHOAL_ASSIGN_OR_RETURN(std::vector<std::string> moved,
                           consensus::RaftNode::ResetState(options.data_dir));
    for (const std::string& path : moved) {
      SHOAL_LOG_WARNING("--raft-reset-state: old state kept as %s; rejoining the group", path);
    }
  }
  // Shorter than the orchestrator's own wait for the ready line, so that its error is ours.
  options.bootstrap_wait = absl::Milliseconds(flags.timeout_ready_ms) * 3 / 4;
  const int tls_given = !flags.raft_tls_certfile.empty() + !flags.raft_tls_keyfile.empty() +
                        !flags.raft_tls_cafile.empty();
  if (tls_given != 0 && tls_given != 3) {
    return absl::InvalidArgumentError(
        "--raft-tls-certfile, --raft-tls-keyfile and --raft-tls-cafile go together (mutual TLS "
        "between Raft members): give all three or none");
  }
  options.tls_certfile = flags.raft_tls_certfile;
  options.tls_keyfile = flags.raft_tls_keyfile;
  options.tls_cafile = flags.raft_tls_cafile;
  options.on_damaged = [](std::string_view why) {
    SHOAL_LOG_ERROR("stopping: %s", why);
    std::_Exit(kExitDamagedState);
  };
  for (absl::string_view peer : absl::StrSplit(flags.raft_peers, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> id_address = absl::StrSplit(peer, absl::MaxSplits('=', 1));
    if (id_address.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--raft-peers: '", peer, "' is not id=host:port"));
    }
    options.peers[id_address.first] = id_address.second;
  }
  // With both: a member named in --raft-peers bootstraps with them; any other one (a
  // StatefulSet scaled up past the first members) joins through --raft-join.
  *joining = !flags.raft_join.empty() && !options.peers.contains(options.id);
  if (*joining) options.peers.clear();
  // Neither peers nor a group to join: a group of one, bootstrapped with the bound address.
  options.bootstrap_alone = options.peers.empty() && flags.raft_join.empty();
  if (!google::protobuf::util::JsonStringToMessage(flags.raft_configuration,
                                                   &options.raft_configuration)
           .ok()) {
    return absl::InvalidArgumentError("--raft-configuration is not a JSON object");
  }
  options.linearizable_reads = flags.read_consistency == "linearizable";
  return replica::StatefulReplica::Start(runtime, std::move(options));
}

// The batched endpoints: registrations, the Executor YAML's `dynamic_batching`, then
// --uses-dynamic-batching (a Deployment's `uses_dynamic_batching`).
StatusOr<replica::BatchingTable> ResolveBatching(const ExecutorFlags& flags,
                                                 const executor::LoadedExecutor& loaded) {
  replica::BatchingSources sources{.yaml = loaded.dynamic_batching,
                                   .yaml_source = loaded.dynamic_batching_source,
                                   .stateful = flags.stateful};
  if (!flags.uses_dynamic_batching.empty()) {
    SHOAL_ASSIGN_OR_RETURN(
        sources.deployment,
        config::ParseDynamicBatchingJson(flags.uses_dynamic_batching, "--uses-dynamic-batching"));
  }
  return replica::ResolveBatching(*loaded.cls, sources);
}

// Drains `server` (Shutdown with `grace`) on its own thread; false when the drain, or the
// Executor's current request, is still going a moment after `grace`.
bool Drain(replica::ReplicaServer& server, absl::Duration grace) {
  constexpr absl::Duration kMargin = absl::Seconds(1);
  auto drained = std::make_shared<absl::Notification>();
  std::thread([&server, grace, drained] {
    server.Shutdown(grace);
    drained->Notify();
  }).detach();
  const absl::Time deadline = absl::Now() + grace + kMargin;
  if (!drained->WaitForNotificationWithDeadline(deadline)) return false;
  return server.WaitIdle(std::max(deadline - absl::Now(), absl::ZeroDuration()));
}

int RunExecutor(const ExecutorFlags& flags) {
  DieWithParent();
  SetLogName(flags.name);
  const int stop_signals = InstallStopSignals();
  StatusOr<std::string> token = rpc::LoadAuthToken(flags.auth_token_file);
  if (!token.ok()) {
    SHOAL_LOG_ERROR("%s", token.status().message());
    return 2;
  }
  // Checked before anything starts, so that a bad file is named at once.
  if (StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
          rpc::ServerCredentialsFor(flags.tls);
      !credentials.ok()) {
    SHOAL_LOG_ERROR("--ssl-certfile/--ssl-keyfile/--ssl-cafile: %s",
                    credentials.status().message());
    return 2;
  }
  std::optional<Params> uses_with;
  std::string error;
  uses_with = Params::FromJson(flags.uses_with, &error);
  if (!uses_with.has_value()) {
    SHOAL_LOG_ERROR("--uses-with is not a JSON object: %s", error);
    return 2;
  }
  StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor(
      flags.uses, *uses_with, {.name = flags.name, .workspace = flags.workspace});
  if (!loaded.ok()) {
    SHOAL_LOG_ERROR("cannot start Executor '%s': %s", flags.uses, loaded.status().ToString());
    return 1;
  }
  StatusOr<replica::BatchingTable> batching = ResolveBatching(flags, *loaded);
  if (!batching.ok()) {
    SHOAL_LOG_ERROR("cannot start Executor '%s': %s", flags.uses, batching.status().message());
    return 2;
  }
  auto runtime = std::make_unique<replica::ReplicaRuntime>(
      std::move(loaded).value(),
      replica::ReplicaRuntime::Options{.name = flags.name,
                                       .workspace = flags.workspace,
                                       .max_queued = static_cast<size_t>(flags.max_queued)});
  std::unique_ptr<replica::StatefulReplica> stateful;
  bool joining = false;
  if (flags.stateful) {
    StatusOr<std::unique_ptr<replica::StatefulReplica>> started =
        StartStateful(flags, runtime.get(), &joining);
    if (!started.ok()) {
      SHOAL_LOG_ERROR("cannot start the Raft member of '%s': %s", flags.name,
                      started.status().ToString());
      return started.status().code() == absl::StatusCode::kDataLoss ? kExitDamagedState : 1;
    }
    stateful = std::move(started).value();
    // A member that already has a log was added before (this is a restart): no join.
    if (joining && stateful->Stats().last_log_index == 0) {
      std::vector<std::string> members = absl::StrSplit(flags.raft_join, ',', absl::SkipEmpty());
      Status joined = rpc::AddVoterVia(members, stateful->id(), stateful->raft_address(),
                                       absl::Milliseconds(flags.timeout_ready_ms),
                                       MemberSecurity(flags, *token));
      if (!joined.ok()) {
        SHOAL_LOG_ERROR("cannot join the Raft group of '%s': %s", flags.name, joined.message());
        return 1;
      }
    }
    Status caught_up = stateful->WaitCaughtUp(absl::Milliseconds(flags.timeout_ready_ms));
    if (!caught_up.ok()) {
      SHOAL_LOG_ERROR("%s", caught_up.message());
      return caught_up.code() == absl::StatusCode::kDataLoss ? kExitDamagedState : 1;
    }
  }
  StatusOr<std::unique_ptr<replica::ReplicaServer>> server =
      replica::ReplicaServer::Start(std::move(runtime),
                                    {.host = flags.host,
                                     .port = flags.port,
                                     .max_receive_message_bytes = flags.max_message_size,
                                     .max_send_message_bytes = flags.max_send_message_size,
                                     .max_memory_bytes = flags.max_grpc_memory,
                                     .max_docs_per_request = flags.max_docs_per_request,
                                     .tls = flags.tls,
                                     .auth_token = *token,
                                     .reflection = !flags.no_reflection,
                                     .batching = *std::move(batching)},
                                    std::move(stateful));
  if (!server.ok()) {
    SHOAL_LOG_ERROR("cannot serve '%s': %s", flags.uses, server.status().ToString());
    return 1;
  }
  SHOAL_LOG_INFO("serving %s on %s:%d", flags.uses, flags.host, (*server)->port());
  std::unique_ptr<metrics::Exposer> exposer;
  if (flags.port_monitoring.has_value()) {
    StatusOr<std::unique_ptr<metrics::Exposer>> started =
        metrics::StartExposer(flags.host, *flags.port_monitoring);
    if (!started.ok()) {
      SHOAL_LOG_ERROR("--port-monitoring: %s", started.status().message());
      return 1;
    }
    exposer = std::move(started).value();
    SHOAL_LOG_INFO("metrics on %s:%d", flags.host, exposer->port());
  }
  std::cout << "ready port=" << (*server)->port() << std::endl;

  int signal = WaitForStopSignal(stop_signals);
  SHOAL_LOG_INFO("got %s: draining", signal == SIGINT ? "SIGINT" : "SIGTERM");
  if (!Drain(**server, absl::Milliseconds(flags.shutdown_timeout_ms))) {
    // The Executor is stuck in a request past the timeout: nothing is left to wait for.
    SHOAL_LOG_ERROR("--shutdown-timeout (%d ms) passed; exiting and abandoning %s",
                    flags.shutdown_timeout_ms, (*server)->Running());
    std::fflush(nullptr);
    _exit(1);
  }
  server->reset();
  SHOAL_LOG_INFO("stopped");
  return 0;
}

}  // namespace

Command AddExecutorCommand(CLI::App& app) {
  auto flags = std::make_shared<ExecutorFlags>();
  CLI::App* sub = app.add_subcommand("executor", "Serve one replica of an Executor");
  sub->add_option("--uses", flags->uses,
                  "Executor class name, path/libx.so[:Class], Python path/x.py[:Class] or "
                  "package.module:Class, or Executor YAML")
      ->required();
  sub->add_option("--uses-with", flags->uses_with, "JSON object passed to the Executor");
  sub->add_option("--uses-dynamic-batching", flags->uses_dynamic_batching,
                  "JSON object of endpoint to dynamic batching options, over the Executor's own: "
                  "'{\"/embed\": {\"preferred_batch_size\": 32, \"timeout\": 50}}'");
  sub->add_option("--name", flags->name, "Replica name, e.g. indexer/rep-0");
  sub->add_option("--host", flags->host, "Address to listen on");
  sub->add_option("--port", flags->port, "Port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--port-monitoring", flags->port_monitoring,
                  "Port serving Prometheus metrics at /metrics (0: any free port)")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--workspace", flags->workspace, "Folder the Executor may write to");
  sub->add_option("--max-queued-requests", flags->max_queued,
                  "Requests that may wait for the Executor; more are refused with "
                  "RESOURCE_EXHAUSTED and the router tries another replica (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-message-size", flags->max_message_size,
                  "Largest request in bytes; larger ones are refused with RESOURCE_EXHAUSTED "
                  "(-1: no limit; YAML grpc_server_options: grpc.max_receive_message_length)")
      ->check(CLI::Range(-1, INT_MAX));
  sub->add_option("--max-grpc-memory", flags->max_grpc_memory,
                  "Bytes gRPC may hold for requests being received and served at once; near it, "
                  "new calls are refused with RESOURCE_EXHAUSTED (0 or -1: no limit)")
      ->check(CLI::Range(int64_t{-1}, INT64_MAX));
  sub->add_option("--max-send-message-size", flags->max_send_message_size,
                  "Largest answer in bytes (-1: no limit; YAML grpc_server_options: "
                  "grpc.max_send_message_length)")
      ->check(CLI::Range(-1, INT_MAX));
  sub->add_option("--max-docs-per-request", flags->max_docs_per_request,
                  "Most documents in one request; more are refused with RESOURCE_EXHAUSTED "
                  "before the Executor sees them (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--shutdown-timeout", flags->shutdown_timeout_ms,
                  "Milliseconds to drain in-flight requests on SIGTERM")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--stateful", flags->stateful,
                "Replicate write endpoints through Raft (needs --workspace, --raft-address)");
  sub->add_option("--raft-id", flags->raft_id, "Raft member ID (default: --name)");
  sub->add_option("--raft-address", flags->raft_address, "Raft transport host:port to listen on");
  sub->add_option("--raft-advertise", flags->raft_advertise,
                  "host:port the other members dial (a DNS name may be used; default: "
                  "--raft-address, which then must not be 0.0.0.0)");
  sub->add_option("--raft-peers", flags->raft_peers,
                  "Every member for bootstrap: id=host:port,id=host:port,...");
  sub->add_option("--raft-join", flags->raft_join,
                  "Join a running group instead of bootstrapping (unless --raft-peers names "
                  "this member): gRPC host:port of its replicas, comma-separated; the leader "
                  "adds this member");
  sub->add_option("--raft-configuration", flags->raft_configuration,
                  "JSON object of Hashicorp raft settings (HeartbeatTimeout, ...)");
  sub->add_option("--read-consistency", flags->read_consistency,
                  "eventual (any replica answers reads) or linearizable (the leader, confirmed)")
      ->check(CLI::IsMember({"eventual", "linearizable"}));
  sub->add_option("--raft-tls-certfile", flags->raft_tls_certfile,
                  "PEM certificate of this member for mutual TLS between Raft members (with "
                  "--raft-tls-keyfile and --raft-tls-cafile)");
  sub->add_option("--raft-tls-keyfile", flags->raft_tls_keyfile,
                  "PEM private key of --raft-tls-certfile");
  sub->add_option("--raft-tls-cafile", flags->raft_tls_cafile,
                  "PEM CA that signs every member's certificate; members without one are refused");
  sub->add_flag("--raft-reset-state", flags->raft_reset_state,
                "Move this member's Raft state aside first (renamed raft.db.corrupt-<time>, "
                "never deleted), so that it rejoins its group from a peer's snapshot");
  sub->add_option("--timeout-ready", flags->timeout_ready_ms,
                  "Milliseconds a stateful replica may take to catch up before serving");
  AddSecurityOptions(sub, &flags->tls, &flags->auth_token_file, &flags->no_reflection);
  return {sub, [flags] { return RunExecutor(*flags); }};
}

}  // namespace shoal::cli
