// The gateway's request path: a graph of Deployments (Jina's Flow topology), each reached
// through its router. A request's bytes travel from node to node unparsed; only the header
// (and the parameters, when some are Executor-specific) is read, once. Joins reduce their parts
// in `needs` order; an Executor error short-circuits everything downstream, as in Jina.
#ifndef SHOAL_GATEWAY_GATEWAY_H_
#define SHOAL_GATEWAY_GATEWAY_H_

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jina.pb.h"
#include "src/gateway/request_head.h"
#include "src/routing/call_scope.h"
#include "src/routing/deployment_router.h"

namespace shoal::gateway {

using Deadline = std::optional<std::chrono::system_clock::time_point>;

// One node of the graph. The router is borrowed and outlives the Gateway.
struct GraphNode {
  std::string name;
  routing::DeploymentRouter* router = nullptr;
  std::vector<size_t> needs;  // predecessors, in `needs` order; empty: the gateway
  bool no_reduce = false;     // a join hands all parts to one process_data call
};

// Thread-safe. The graph is immutable after construction; endpoints learned by Discover().
class Gateway {
 public:
  // `end` is the node whose answer is the response (nullopt: no nodes, requests are echoed).
  // Nodes that nothing needs and that are not `end` are floating: they run, nobody waits.
  Gateway(std::vector<GraphNode> nodes, std::optional<size_t> end);
  // A single Deployment (or a chain of them).
  explicit Gateway(std::vector<routing::DeploymentRouter*> chain);

  // Asks every node for its endpoints, so that requests skip nodes without a handler (and
  // without /default), as Jina's gateway does. A node that cannot be asked is never skipped.
  void Discover(std::chrono::milliseconds timeout);

  // Routes one serialized DataRequestProto; `done` runs once, on a gRPC thread, with the end
  // node's answer, or the first transport failure (naming the Deployment). `scope`: the client
  // call it came in (routing/call_scope.h), which every downstream call is made for; the request
  // travels over its streams when it has them.
  void Process(grpc::ByteBuffer request, const RequestHead& head, Deadline deadline,
               absl::AnyInvocable<void(routing::SendResult)> done,
               std::shared_ptr<routing::CallScope> scope = nullptr);
  // Several parts in one process_data call; only for a single-Deployment gateway.
  void ProcessParts(grpc::ByteBuffer parts, Deadline deadline,
                    absl::AnyInvocable<void(routing::SendResult)> done,
                    const std::shared_ptr<routing::CallScope>& scope = nullptr);

  // The union of every node's endpoints (asks one replica of each).
  void DiscoverEndpoints(absl::AnyInvocable<void(StatusOr<jina::EndpointsProto>)> done);
  // OK when every Deployment has a healthy replica; else names the first that has none.
  Status Ready() const;

  size_t size() const { return nodes_.size(); }
  const std::vector<GraphNode>& nodes() const { return nodes_; }
  std::optional<size_t> end() const { return end_; }
  // Whether `node` serves `endpoint` with a streaming (generator) endpoint, as its discovery
  // said (false while unknown).
  bool Streams(size_t node, const std::string& endpoint) const;
  // Whether every node's endpoints are known, and one of them lists `endpoint` by name (what
  // may be remembered about it: other names are a client's choice).
  bool KnownEndpoint(const std::string& endpoint) const;
  // A gateway over the nodes `keep` only (a part of this graph, for streams): needs on nodes
  // left out are dropped, `end` is the node whose answer is the response; discovered endpoints
  // are kept. The routers are shared.
  std::unique_ptr<Gateway> Part(const std::vector<size_t>& keep, size_t end) const;

  // Counts as a request being routed until the token is destroyed, so that Drain waits for it:
  // for work that uses the routers outside Process (a stream).
  std::shared_ptr<void> Hold();

  // Waits up to `timeout` until no request is being routed (floating branches included): call
  // after the servers stopped and before the Deployments go away. True when none is left.
  bool Drain(absl::Duration timeout);

  class Run;

 private:
  friend class Run;
  // Whether `node` handles `endpoint` (true when its endpoints are unknown).
  bool Handles(size_t node, const std::string& endpoint) const;

  const std::vector<GraphNode> nodes_;
  const std::optional<size_t> end_;
  std::vector<std::vector<std::pair<size_t, size_t>>> successors_;  // (node, slot in its needs)
  std::vector<size_t> origins_;
  absl::Mutex runs_mu_;
  int live_runs_ ABSL_GUARDED_BY(runs_mu_) = 0;
  mutable absl::Mutex mu_;
  std::vector<std::optional<jina::EndpointsProto>> endpoints_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_GATEWAY_H_
