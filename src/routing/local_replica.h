// A replica in the router's own process (a Deployment with `inprocess: true`): the router hands
// it unary data requests as bytes, without a gRPC call. It also serves gRPC on 127.0.0.1, which
// everything else takes (health probes, Call streams' fallbacks, stream_doc, discovery).
#ifndef SHOAL_ROUTING_LOCAL_REPLICA_H_
#define SHOAL_ROUTING_LOCAL_REPLICA_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>

#include "absl/functional/any_invocable.h"

namespace shoal::routing {

class LocalReplica {
 public:
  struct Answer {
    grpc::Status status;
    grpc::ByteBuffer response;
    bool is_error = false;  // the answer's header says ERROR (an Executor error)
  };
  using Done = absl::AnyInvocable<void(Answer)>;

  virtual ~LocalReplica() = default;
  // Answers `request` (a serialized jina.DataRequestProto) as process_single_data would. `done`
  // runs exactly once, on any thread, possibly before Call returns. `gone`: whether the caller
  // gave up (checked before the Executor runs, and by Executor::request_cancelled).
  virtual void Call(const grpc::ByteBuffer& request, std::chrono::system_clock::time_point deadline,
                    std::function<bool()> gone, Done done) = 0;
};

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_LOCAL_REPLICA_H_
