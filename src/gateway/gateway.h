// The gateway's request path: a chain of Deployments, each reached through its router. A
// request's bytes travel from node to node unparsed; only the header is read, once. An
// Executor error (is-error) short-circuits the rest of the chain, as in Jina.
#ifndef SHOAL_GATEWAY_GATEWAY_H_
#define SHOAL_GATEWAY_GATEWAY_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "jina.pb.h"
#include "src/gateway/request_head.h"
#include "src/routing/deployment_router.h"

namespace shoal::gateway {

using Deadline = std::optional<std::chrono::system_clock::time_point>;

// Thread-safe. Borrows the routers, which outlive it.
class Gateway {
 public:
  explicit Gateway(std::vector<routing::DeploymentRouter*> chain);

  // Routes one serialized DataRequestProto through the chain; `done` runs once on a gRPC
  // thread with the last node's answer (or the first failure, naming the Deployment).
  void Process(grpc::ByteBuffer request, const RequestHead& head, Deadline deadline,
               absl::AnyInvocable<void(routing::SendResult)> done);
  // Several parts in one process_data call; only for a single-Deployment gateway.
  void ProcessParts(grpc::ByteBuffer parts, Deadline deadline,
                    absl::AnyInvocable<void(routing::SendResult)> done);

  // The union of every Deployment's endpoints (asks one replica of each).
  void DiscoverEndpoints(absl::AnyInvocable<void(StatusOr<jina::EndpointsProto>)> done);
  // OK when every Deployment has a healthy replica; else names the first that has none.
  Status Ready() const;

  size_t size() const { return chain_.size(); }

 private:
  void Step(size_t node, grpc::ByteBuffer request, std::string endpoint, Deadline deadline,
            absl::AnyInvocable<void(routing::SendResult)> done);

  const std::vector<routing::DeploymentRouter*> chain_;
};

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_GATEWAY_H_
