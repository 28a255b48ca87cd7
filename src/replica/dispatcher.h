// Where a replica sends a request: the one policy behind its unary and stream handlers. On a
// stateful replica a write goes through the Raft log (the leader's Executor answers), a read
// with linearizable reads runs while this replica's read lease holds or once it confirmed it is
// the leader, and anything else goes straight to the Executor. Knows nothing of gRPC: the
// handlers say what serving and answering mean for their call.
#ifndef SHOAL_REPLICA_DISPATCHER_H_
#define SHOAL_REPLICA_DISPATCHER_H_

#include <string_view>
#include <utility>

#include "jina.pb.h"
#include "shoal/status.h"
#include "src/replica/replicated_log.h"
#include "src/replica/runtime.h"

namespace shoal::replica {

// Thread-safe; borrows both, which outlive it.
class Dispatcher {
 public:
  // `log` is null unless the replica is stateful.
  Dispatcher(const ReplicaRuntime* runtime, ReplicatedLog* log) : runtime_(runtime), log_(log) {}

  // Dispatches `request`. Either `serve()` is called (at once, or once the leadership is
  // confirmed), and the handler runs the Executor on the request; or `answered(answer)` is
  // called with a write's answer from the log (serialized) or the error that ends the call (then
  // `serve` is dropped). `raw()` returns the request as the bytes it arrived as (a std::string):
  // called once, at once, for a write only. `answered` must convert to
  // absl::AnyInvocable<void(StatusOr<WriteAnswer>)>.
  template <typename Raw, typename Serve, typename Answered>
  void Dispatch(const jina::DataRequestProto& request, Raw raw, Serve serve,
                Answered answered) const {
    if (log_ == nullptr) {
      serve();
      return;
    }
    if (runtime_->IsWrite(request.header().exec_endpoint())) {
      log_->Write(raw(), std::move(answered));
      return;
    }
    if (!log_->linearizable_reads() || log_->ReadLeaseHolds()) {
      serve();
      return;
    }
    log_->ConfirmLeader(
        [serve = std::move(serve), answered = std::move(answered)](Status confirmed) mutable {
          if (!confirmed.ok()) {
            answered(StatusOr<WriteAnswer>(std::move(confirmed)));
            return;
          }
          // The checking thread goes back to the next check: the read runs elsewhere.
          ReplicaRuntime::PostOnlyScope post_only;
          serve();
        });
  }
  // The same for a request whose bytes are gone: a write is serialized again.
  template <typename Serve, typename Answered>
  void Dispatch(const jina::DataRequestProto& request, Serve serve, Answered answered) const {
    Dispatch(
        request, [&request] { return request.SerializeAsString(); }, std::move(serve),
        std::move(answered));
  }

  // Whether a request for `endpoint` would go through the log.
  bool Replicates(std::string_view endpoint) const {
    return log_ != nullptr && runtime_->IsWrite(endpoint);
  }

 private:
  const ReplicaRuntime* const runtime_;
  ReplicatedLog* const log_;
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_DISPATCHER_H_
