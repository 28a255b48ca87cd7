// The router of one Deployment: its shards, each a ReplicaSet, and the per-endpoint polling.
// ANY sends a request to one shard (round robin) and forwards the answer's bytes unparsed; ALL
// sends it to every shard at once and reduces the answers in shard order.
#ifndef SHOAL_ROUTING_DEPLOYMENT_ROUTER_H_
#define SHOAL_ROUTING_DEPLOYMENT_ROUTER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "src/routing/polling.h"
#include "src/routing/replica_set.h"
#include "src/routing/sender.h"

namespace shoal::routing {

// Thread-safe; immutable structure after construction (replica addresses may change).
class DeploymentRouter {
 public:
  struct Options {
    std::string name;
    PollingTable polling;
    int retries = -1;  // Jina's: -1 = max(3, replicas) + 1 attempts
    std::optional<std::chrono::milliseconds> timeout_send;
  };
  DeploymentRouter(Options options, std::vector<std::unique_ptr<ReplicaSet>> shards);

  // Routes one serialized DataRequestProto for `endpoint`; `done` runs once, on a gRPC thread.
  // With ALL polling, failed shards are dropped with a warning unless all fail; the trailing
  // metadata then carries `total_shards` and `failed_shards`.
  // `method` is process_single_data, or process_data for the parts of a no_reduce join.
  // `scope`: the client call the request is routed for (cancellation, streams), if any.
  void Route(std::string_view endpoint, grpc::ByteBuffer request,
             std::optional<std::chrono::system_clock::time_point> deadline,
             absl::AnyInvocable<void(SendResult)> done, const char* method = kProcessSingleData,
             const std::shared_ptr<CallScope>& scope = nullptr);

  const std::string& name() const { return name_; }
  // The settings a running Deployment changes in place; each applies to the calls routed
  // after it (calls in flight keep theirs).
  void SetRetries(int retries) { retries_.store(retries, std::memory_order_relaxed); }
  int retries() const { return retries_.load(std::memory_order_relaxed); }
  // nullopt: no timeout per call.
  void SetTimeoutSend(std::optional<std::chrono::milliseconds> timeout);
  std::optional<std::chrono::milliseconds> timeout_send() const;
  void SetPolling(PollingTable polling) ABSL_LOCKS_EXCLUDED(polling_mu_);
  size_t num_shards() const { return shards_.size(); }
  ReplicaSet& shard(size_t i) { return *shards_[i]; }
  // The shard an ANY request goes to next (shards in turn).
  ReplicaSet& NextShard() {
    return *shards_[next_shard_.fetch_add(1, std::memory_order_relaxed) % shards_.size()];
  }
  // How the router sends a call of `endpoint` to `set`: attempts, timeout_send, deadline.
  SendOptions OptionsFor(const ReplicaSet& set,
                         std::optional<std::chrono::system_clock::time_point> deadline,
                         const char* method, std::string_view endpoint,
                         const std::shared_ptr<CallScope>& scope = nullptr) const;

 private:
  void RouteAll(std::string_view endpoint, grpc::ByteBuffer request,
                std::optional<std::chrono::system_clock::time_point> deadline,
                absl::AnyInvocable<void(SendResult)> done, const char* method,
                const std::shared_ptr<CallScope>& scope);

  Polling PollingFor(std::string_view endpoint) const ABSL_LOCKS_EXCLUDED(polling_mu_);

  const std::string name_;
  std::atomic<int> retries_;
  std::atomic<int64_t> timeout_send_ms_;  // <= 0: none
  mutable absl::Mutex polling_mu_;
  PollingTable polling_ ABSL_GUARDED_BY(polling_mu_);
  std::vector<std::unique_ptr<ReplicaSet>> shards_;
  std::atomic<uint64_t> next_shard_{0};
};

// Reduces the answers of several shards (or Flow predecessors), in the given order, into one
// serialized DataRequestProto: the first successful answer is the base, docs are merged by id,
// `__results__` dicts are merged. Errors only when no answer can be parsed.
StatusOr<grpc::ByteBuffer> ReduceResponses(const std::vector<const grpc::ByteBuffer*>& answers);

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_DEPLOYMENT_ROUTER_H_
