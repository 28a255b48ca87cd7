// The replica's gRPC server: Jina's worker services (process_single_data, process_data, Call,
// endpoint_discovery, _status) over a ReplicaRuntime, plus grpc.health.v1 and reflection.
#ifndef SHOAL_REPLICA_SERVER_H_
#define SHOAL_REPLICA_SERVER_H_

#include <grpcpp/support/byte_buffer.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/common/tls_files.h"
#include "src/config/grpc_server_options.h"
#include "src/replica/batcher.h"
#include "src/replica/runtime.h"
#include "src/rpc/server.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace shoal::replica {

class StatefulReplica;

using config::kDefaultMaxDocsPerRequest;
using config::kDefaultMaxReceiveMessageBytes;

// Thread-safe. States: serving (after Start) -> draining (Shutdown: health NOT_SERVING, no new
// calls, in-flight calls finish) -> stopped (the Executor is closed).
class ReplicaServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    int port = 0;  // 0: any free port; port() tells which
    // Larger requests are refused by gRPC with RESOURCE_EXHAUSTED; -1: no limit.
    int max_receive_message_bytes = kDefaultMaxReceiveMessageBytes;
    int max_send_message_bytes = -1;
    // gRPC's memory quota for the server (rpc::ServerOptions::max_memory_bytes); 0 or -1: none.
    int64_t max_memory_bytes = rpc::kDefaultMaxMemoryBytes;
    // Requests with more documents are refused with RESOURCE_EXHAUSTED before they are
    // parsed; 0: no limit.
    int max_docs_per_request = kDefaultMaxDocsPerRequest;
    TlsFiles tls;  // certfile + keyfile: serve TLS; with cafile: require client certificates
    // When set, every data and membership call must carry `authorization: Bearer <token>`
    // (grpc.health stays open for probes).
    std::string auth_token;
    bool reflection = true;  // grpc.reflection.v1alpha
    // Endpoints whose requests are batched (ResolveBatching); empty: none.
    BatchingTable batching;
  };
  // `stateful` (optional) must have been started over `runtime`; writes then go through it.
  static StatusOr<std::unique_ptr<ReplicaServer>> Start(
      std::unique_ptr<ReplicaRuntime> runtime, const Options& options,
      std::unique_ptr<StatefulReplica> stateful = nullptr);
  ~ReplicaServer();

  int port() const { return port_; }
  // process_single_data without gRPC, for a router in this process (an `inprocess: true`
  // Deployment): `request` is the serialized DataRequestProto. `done` runs exactly once, on any
  // thread, possibly before CallDirect returns, with what the gRPC call would have answered:
  // the error, or the answer and whether the Executor failed. `gone`: whether the caller gave
  // up; its deadline is checked as a gRPC call's is (DEADLINE_EXCEEDED when it passed, or is
  // nearer than the endpoint usually takes, before the Executor runs; request_cancelled() once
  // it passed). Stateless replicas only: FAILED_PRECONDITION on a stateful one, whose writes go
  // through the Raft log; UNAVAILABLE once Shutdown began, and for direct calls still queued
  // when its grace ran out.
  struct DirectAnswer {
    Status status;
    grpc::ByteBuffer response;
    bool executor_failed = false;
  };
  using DirectDone = absl::AnyInvocable<void(DirectAnswer)>;
  void CallDirect(const grpc::ByteBuffer& request, std::chrono::system_clock::time_point deadline,
                  std::function<bool()> gone, DirectDone done);
  // After Shutdown: waits up to `timeout` for the Executor to finish what it runs (and close).
  // False when it is still busy; Running() then names the request it runs.
  bool WaitIdle(absl::Duration timeout) { return runtime_->WaitIdle(timeout); }
  std::string Running() const { return runtime_->Running(); }
  // Drains: NOT_SERVING, then waits up to `grace` for in-flight calls (cancelling the rest;
  // direct calls still queued then are answered UNAVAILABLE, the running one is waited for),
  // then closes the Executor. Idempotent.
  void Shutdown(absl::Duration grace);

  class Services;

 private:
  ReplicaServer() = default;

  std::unique_ptr<ReplicaRuntime> runtime_;
  std::unique_ptr<StatefulReplica> stateful_;  // destroyed before the runtime it uses
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  // The message limits, which a direct call is held to as a gRPC call is; -1: none.
  int max_receive_message_bytes_ = -1;
  int max_send_message_bytes_ = -1;
  std::atomic<bool> stopped_{false};
  // Direct calls (CallDirect) not yet answered: Shutdown waits for them before the Executor
  // closes, and none starts once it began.
  absl::Mutex direct_mu_;
  int direct_calls_ ABSL_GUARDED_BY(direct_mu_) = 0;
  bool direct_closed_ ABSL_GUARDED_BY(direct_mu_) = false;
  // Shutdown's grace ran out: the direct calls still queued are answered UNAVAILABLE unrun.
  std::atomic<bool> direct_abandoned_{false};
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_SERVER_H_
