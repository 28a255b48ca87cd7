// A Deployment: one Executor served by `replicas` processes in each of `shards` partitions,
// behind one gRPC port that balances across replicas (the least loaded first), retries on
// another replica, fans out to shards and reduces. RAII like Python's `with Deployment(...)`.
//
//   shoal::Deployment dep({.name = "slow_encoder", .uses = "Sleep", .replicas = 3});
//   if (auto started = dep.Start(); !started.ok()) ...
//   auto docs = dep.Post("/encode", std::move(inputs));
#ifndef SHOAL_DEPLOYMENT_H_
#define SHOAL_DEPLOYMENT_H_

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shoal/client.h"
#include "shoal/doc.h"
#include "shoal/status.h"

namespace shoal {

// PEM files for mutual TLS between Shoal's own processes (`internal_tls`): each replica serves
// TLS with `certfile`/`keyfile` and requires a client certificate signed by `cafile`; routers,
// the gateway and membership calls present the same certificate and verify with `cafile`.
struct InternalTlsOptions {
  std::string certfile;
  std::string keyfile;
  std::string cafile;
};

// The keys of Jina's Deployment, with its defaults.
struct DeploymentOptions {
  std::string name = "executor";
  std::string uses = "Echo";     // class name, path/libx.so[:Class], Executor YAML
  std::string uses_with = "{}";  // a JSON object for the Executor
  // Dynamic batching per endpoint, over the Executor's own (JSON, as Jina's
  // uses_dynamic_batching): {"/embed": {"preferred_batch_size": 32, "timeout": 50}}.
  std::string uses_dynamic_batching = "{}";
  int replicas = 1;
  int shards = 1;
  std::string polling = "ANY";     // ANY / ALL, or a JSON map {"*": "ANY", "/custom": "ALL"}
  int port = 0;                    // the Deployment's gRPC port; 0: any free port
  std::string host = "127.0.0.1";  // where that port listens
  std::map<std::string, std::string> env;   // extra environment of every replica
  bool external = false;                    // serve `external_hosts` instead of spawning replicas
  std::vector<std::string> external_hosts;  // [grpc://|grpcs://]host:port, one per replica
  // Replicas as threads of this process instead of replica processes (docs/deployments.md,
  // "In-process Executors"): no network hop to them, and no crash isolation. Stateless C++
  // Executors (a class registered in this process or a libx.so) only; the program calls
  // EnableInProcessExecutors() first.
  bool inprocess = false;
  int timeout_ready_ms = 600000;
  int timeout_send_ms = 0;      // 0: no deadline per call to a replica
  int retries = -1;             // -1: max(3, replicas) + 1 attempts
  int max_queued_requests = 0;  // per replica, waiting for the Executor; 0: no limit
  // Requests with more documents are refused by each replica (RESOURCE_EXHAUSTED); 0: no limit.
  int max_docs_per_request = 10000;
  // Bytes a request may have at the replicas and the Deployment's gateway; -1: no limit.
  int max_message_size = 64 << 20;
  // Errors to clients give replicas' host:port instead of their names (a debugging aid).
  bool expose_internal_errors = false;
  std::string workspace;
  // Stateful: write endpoints go through a Raft log per shard (needs `workspace`).
  bool stateful = false;
  std::string raft_configuration = "{}";  // JSON: HeartbeatTimeout, ElectionTimeout, ...
  // Per shard, the Raft transport port of each replica; empty: ports picked on the first start
  // and kept in the workspace for the next ones.
  std::vector<std::vector<int>> peer_ports;
  std::string read_consistency = "eventual";  // or "linearizable": reads on the leader
  std::string shoal_binary;                   // the `shoal` executable replicas run; empty: found
  // The most replica processes (replicas x shards) Start() and Scale() may reach; more is an
  // error before anything starts, as is more than the machine can hold. In a Flow, the Flow's
  // max_replicas applies instead.
  int max_replicas = 256;
  // Autoscaling (docs/deployments.md, "Autoscaling"): a JSON object with Ray Serve's keys,
  // e.g. {"min_replicas": 1, "max_replicas": 8, "target_ongoing_requests": 2,
  // "upscale_delay_s": 30, "downscale_delay_s": 600}; empty: a fixed `replicas`. The
  // Deployment then starts with initial_replicas, else `replicas` clamped to [min, max].
  std::string autoscaling;
  // In a Flow only: the nodes this one waits for (empty: the previous non-floating node, or
  // "gateway"), whether nobody waits for it, and whether a join hands it all parts at once.
  std::vector<std::string> needs;
  bool floating = false;
  bool no_reduce = false;
  // Security (docs/security.md). `auth_token`: every data and membership call must carry
  // `authorization: Bearer <token>` (replicas get it through their environment, never argv).
  // `ssl_certfile` + `ssl_keyfile`: the Deployment's port serves TLS (Post() then trusts the
  // certificate in ssl_certfile: self-signed, or a chain that includes its CA).
  std::string auth_token;
  std::string ssl_certfile;
  std::string ssl_keyfile;
  InternalTlsOptions internal_tls;
  bool reflection = true;  // gRPC server reflection on the Deployment's port and replicas
};

// Lets this program run Deployments with `inprocess: true` (linking the shoal_inprocess
// library, which brings the replica runtime). Call once, before starting any. Thread-safe.
void EnableInProcessExecutors();

// Thread-safe after Start().
class Deployment {
 public:
  explicit Deployment(DeploymentOptions options);
  // A Deployment YAML (`jtype: Deployment` with `with:`, or keys at the top level).
  static StatusOr<Deployment> FromYaml(const std::filesystem::path& file);
  Deployment(Deployment&&) noexcept;
  Deployment& operator=(Deployment&&) noexcept;
  ~Deployment();  // Stop()

  // Spawns the replicas, waits until each is ready, and serves the Deployment's port.
  Status Start();
  StatusOr<DocList> Post(std::string_view on, const DocList& inputs,
                         const PostOptions& options = {});
  // Drains the port, then stops the replicas (SIGTERM, then SIGKILL). Idempotent.
  void Stop();

  int port() const;
  // host:port of every replica, per shard.
  std::vector<std::vector<std::string>> replica_addresses() const;
  int replica_pid(int shard, int replica) const;  // -1 when not running

  // Changes the number of replicas of every shard of the running Deployment (Jina's
  // `scale`). New replicas serve once ready (a stateful one has joined its shard's Raft group
  // and caught up); removed ones, the highest-numbered, leave the Raft group, then stop.
  Status Scale(int replicas);
  // Moves the running Deployment to `options` without downtime (docs/deployments.md,
  // "Updates"): a new `uses`, `uses_with` or `env` replaces the replicas one at a time (start
  // the new one, wait until ready, move traffic, drain and stop the old one), rolled back
  // when a new replica fails to become ready; keys that need no restart are applied in place.
  Status Update(const DeploymentOptions& options);

  class Impl;

 private:
  explicit Deployment(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal

#endif  // SHOAL_DEPLOYMENT_H_
