// What a Deployment is, as parsed from YAML, the CLI or the C++ API: plain data, validated once
// by ValidateDeploymentSpec, then read by the orchestrator, the router and the exporters.
#ifndef SHOAL_CONFIG_DEPLOYMENT_SPEC_H_
#define SHOAL_CONFIG_DEPLOYMENT_SPEC_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "shoal/status.h"
#include "src/common/tls_files.h"
#include "src/config/autoscaling.h"
#include "src/config/dynamic_batching.h"
#include "src/config/grpc_server_options.h"

namespace shoal::config {

// Where a spec value came from, for errors: "dep.yml:7:3" (empty for the C++ API).
using Origin = std::map<std::string, std::string>;  // key -> file:line:column

struct DeploymentSpec {
  std::string name = "executor";
  std::string uses = "Echo";  // class, path/libx.so[:Class], Executor YAML
  google::protobuf::Struct uses_with;
  google::protobuf::Struct uses_metas;  // as written; `workspace` also fills `workspace`
  // `uses_dynamic_batching`: over the Executor YAML's `dynamic_batching` and the registrations.
  DynamicBatchingTable uses_dynamic_batching;
  int replicas = 1;
  int shards = 1;
  // Polling: the '*' default and named endpoints, as written ("ANY"/"ALL", any case).
  std::string polling_default = "ANY";
  std::map<std::string, std::string> polling;
  std::optional<int> port;          // the Deployment's client-facing port
  std::vector<std::string> host;    // bind address, or external replicas' addresses
  std::vector<int> external_ports;  // `port` as a list, for external replicas
  // External and sharded (`shoal gateway --deployments-addresses` with a list per shard): the
  // replicas' addresses of each shard; `host` is then unused.
  std::vector<std::vector<std::string>> shard_hosts;
  bool external = false;
  // The replicas run inside the process of the router (a Flow's gateway, a Deployment's):
  // no network hop to them, no crash isolation. Stateless C++ Executors only; off by default.
  bool inprocess = false;
  bool tls = false;                        // every external address is grpcs://
  std::string tls_ca_file;                 // roots for grpcs:// external replicas
  std::map<std::string, std::string> env;  // extra environment of every replica
  // `gpus` as written ("1", "all"; empty when not given). Local replicas get GPUs through
  // CUDA_VISIBLE_DEVICES=RR instead; the Kubernetes and docker-compose exports read this.
  std::string gpus;
  int timeout_ready_ms = 600000;       // -1: forever
  std::optional<int> timeout_send_ms;  // per call to a replica; unset: none
  int max_queued_requests = 0;         // per replica, waiting for the Executor; 0: no limit
  // Per request at each replica, refused before the Executor sees it; unset: the replica's
  // default (10,000); 0: no limit.
  std::optional<int> max_docs_per_request;
  // `grpc_server_options`: message size limits of the replicas and of a standalone
  // Deployment's gateway.
  GrpcServerLimits grpc_server_limits;
  // Errors to clients give replicas' host:port instead of their names ("indexer/rep-1"): a
  // debugging aid that tells clients the internal network.
  bool expose_internal_errors = false;
  int retries = -1;  // -1: max(3, replicas) + 1 attempts
  // least_loaded (the idle replica first) or round_robin (Jina's policy, for comparison).
  std::string load_balancing = "least_loaded";
  std::string workspace;
  std::optional<int> port_monitoring;  // Prometheus metrics port
  // Stateful (Raft) Deployments.
  bool stateful = false;
  std::vector<std::vector<int>> peer_ports;     // per shard, one per replica
  google::protobuf::Struct raft_configuration;  // keys as written (see CanonicalRaftKey)
  std::string read_consistency = "eventual";    // or "linearizable"
  // `autoscaling:`: the replicas per shard follow the load between its bounds; unset: fixed.
  std::optional<AutoscalingConfig> autoscaling;
  // Flow graph keys (used when the Deployment is a Flow node).
  std::vector<std::string> needs;
  bool floating = false;
  bool no_reduce = false;
  std::map<std::string, std::string> grpc_metadata;
  // Security. `auth_token`: every data and membership call to the Deployment's gateway and
  // replicas must carry it (`authorization: Bearer <token>`). `ssl_certfile` + `ssl_keyfile`
  // (Jina's keys): the Deployment's client-facing gateway serves TLS. `internal_tls` (certfile,
  // keyfile, cafile): replicas serve mTLS and the router dials them with the certificate.
  std::string auth_token;
  std::string ssl_certfile;
  std::string ssl_keyfile;
  TlsFiles internal_tls;
  bool reflection = true;  // gRPC server reflection on the gateway and replicas

  Origin origin;  // where each key was written, for errors found after parsing
  // Keys that were accepted but have no effect in Shoal, one readable line each, for the caller
  // to log ("dep.yml:3:1: 'volumes' is not supported by Shoal and is ignored").
  std::vector<std::string> warnings;
};

// What a replica's environment `env` gets added, each unless `env` (or, with `inherited`, this
// process's environment, which replicas it starts inherit) says otherwise. The replicas are the
// parallelism:
// - OPENBLAS_NUM_THREADS=1 unless one of the variables OpenBLAS reads for its thread count is
//   set (OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS): each OpenBLAS worker thread
//   spins about 0.1 s of CPU after it starts and after every call, which the others pay for;
// - GOMAXPROCS=1 unless set: the Go runtime in a replica runs only Raft, which waits on disk and
//   network; more processors let it wake idle threads to look for work on every event.
std::map<std::string, std::string> ReplicaEnvDefaults(const std::map<std::string, std::string>& env,
                                                      bool inherited);

// The `shoal executor` flags that carry the spec's request limits to its replicas
// (--max-docs-per-request, --max-message-size, --max-send-message-size); none when unset.
std::vector<std::string> ReplicaLimitFlags(const DeploymentSpec& spec);

// Checks values and combinations (replicas >= 1, shards >= 1, polling values, external address
// lists, peer_ports shapes, ...). Errors are InvalidArgument "file:line:column: key: message",
// the location taken from `spec.origin` when the key is there.
Status ValidateDeploymentSpec(const DeploymentSpec& spec);

// The most replica processes (replicas x shards) one Deployment may start on this machine, unless
// whoever runs it raises the limit (`--max-replicas` of `shoal deployment` and `shoal flow`,
// DeploymentOptions::max_replicas, FlowOptions::max_replicas). Not a YAML key: the limit guards
// the machine against the file.
inline constexpr int kDefaultMaxReplicas = 256;

// Refuses a Deployment that would start more than `max_replicas` replica processes: `replicas`,
// `shards` or their product above it (external Deployments start none). InvalidArgument
// "file:line:column: key: message" naming the values and the limit.
Status CheckReplicaLimit(const DeploymentSpec& spec, int max_replicas);

// One external replica, resolved from `host` and `port` as Jina does (reference §7.1):
// `[grpc://|grpcs://]host[:port]`, an inline port overriding the `port` list entry.
struct ExternalAddress {
  std::string host;  // without scheme or port; IPv6 literals keep their brackets
  int port = 0;
  bool tls = false;  // grpcs://, or `tls: true` on the Deployment
  bool dns = false;  // dns:///host:port: every address `host` resolves to, followed over time

  std::string Target() const { return host + ":" + std::to_string(port); }
};

// The external Deployment `spec` with shard `shard`'s addresses as its `host` (shard_hosts),
// or `spec` itself when it has no per-shard addresses.
DeploymentSpec ExternalShard(const DeploymentSpec& spec, int shard);

// The addresses of an external Deployment, one per replica: one host with N ports repeats the
// host, N hosts with one port repeat the port, otherwise the counts must match. Errors as in
// ValidateDeploymentSpec (no host, a mismatch, an address without a port, a bad scheme).
StatusOr<std::vector<ExternalAddress>> ResolveExternalAddresses(const DeploymentSpec& spec);

// The PascalCase name of a raft_configuration key ("snapshot_interval" -> "SnapshotInterval"),
// converted as Jina does: a key with underscores has each word capitalised, a key without
// passes unchanged. nullopt when the result is not one of the twelve keys Jina accepts.
std::optional<std::string> CanonicalRaftKey(std::string_view key);

// `config` with every key under its CanonicalRaftKey name, as the replica's Raft member takes it,
// so snake_case (Jina's CLI and docs) and PascalCase both work from YAML, the CLI and the C++ API.
// Values pass unchanged. InvalidArgument "raft_configuration: unknown key 'x'; ..." for a key
// that is not one of the twelve, or naming both keys when two name the same field.
StatusOr<google::protobuf::Struct> CanonicalRaftConfiguration(
    const google::protobuf::Struct& config);

// Helpers shared by the config parsers.
// " (did you mean 'x'?)" for the closest candidate within edit distance 2 of `word`; "" if none.
std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates);
// A value as an error message quotes it: 'three', 5, true, null, a list, a map.
std::string DescribeValue(const google::protobuf::Value& value);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_DEPLOYMENT_SPEC_H_
