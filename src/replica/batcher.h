// Dynamic batching of a replica's requests (Jina's @dynamic_batching, with Triton's extras): the
// server's handlers queue requests per (endpoint, parameters); a full queue, or one whose delay
// ran out, becomes one Executor call on the executor thread over the documents of its requests
// concatenated, and each request is answered with its own documents.
#ifndef SHOAL_REPLICA_BATCHER_H_
#define SHOAL_REPLICA_BATCHER_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "jina.pb.h"
#include "shoal/executor.h"
#include "shoal/status.h"
#include "src/config/dynamic_batching.h"
#include "src/executor/registry.h"
#include "src/metrics/metrics.h"
#include "src/replica/runtime.h"

namespace shoal::replica {

// Batching options per endpoint name.
using BatchingTable = std::map<std::string, BatchingOptions, std::less<>>;

// Where a replica's batching comes from, lowest precedence first, as in Jina: the endpoint
// registrations (C++ DynamicBatching(), Python @dynamic_batching), the Executor YAML's
// `dynamic_batching:`, the Deployment's `uses_dynamic_batching:`. An entry replaces a lower one
// for its endpoint. `stateful`: write endpoints go through the Raft log one request at a time, so
// batching one of them is refused.
// `use_dynamic_batching: false` (nullopt) switches an endpoint's batching off.
struct BatchingSources {
  config::DynamicBatchingTable yaml;
  std::string yaml_source;  // for messages: "Executor YAML 'x.yml'"
  config::DynamicBatchingTable deployment;
  bool stateful = false;
};
// The merged table, or InvalidArgument naming the source and the endpoint: an endpoint the
// Executor does not have, a write endpoint of a stateful replica.
StatusOr<BatchingTable> ResolveBatching(const executor::ExecutorClass& cls,
                                        const BatchingSources& sources);

// Thread-safe. Owned by the replica server; borrows the runtime, which outlives it. A timer
// thread ("batcher") flushes queues whose delay ran out; batches run on the executor thread.
// States: batching -> draining (Drain: every queue is flushed now, and every later request at
// once) -> stopped (destructor: joins the timer; batches already posted still run).
class Batcher {
 public:
  using Clock = ReplicaRuntime::Clock;
  // One request for a batched endpoint, prepared (ReplicaRuntime::Prepare) and with documents.
  struct Item {
    jina::DataRequestProto* request = nullptr;  // answered in place
    std::shared_ptr<const void> memory;         // owns `request`; kept until `done` returned
    Clock::time_point arrived = Clock::now();
    std::optional<Clock::time_point> deadline;  // the call's deadline, when it has one
    // Whether the caller is gone (cancelled, deadline passed); checked before the Executor runs.
    absl::AnyInvocable<bool()> cancelled;
    // Called once on the executor thread: OK(executor_failed) with `request` answered (an
    // Executor error in its header), or the error that ends the call (dropped: CANCELLED or
    // DEADLINE_EXCEEDED; UNAVAILABLE when the replica is stopping).
    absl::AnyInvocable<void(StatusOr<bool>)> done;
  };

  Batcher(ReplicaRuntime* runtime, BatchingTable table);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Whether requests for `exec_endpoint` are batched. Any thread. The handlers queue such a
  // request once prepared, when it has documents (one without any runs alone).
  bool Batches(std::string_view exec_endpoint) const;
  // Queues `item`. RESOURCE_EXHAUSTED naming the endpoint and the parameters when that queue
  // holds max_queue_size requests not yet run, or the replica max_queued_requests (then `done` is
  // not called).
  Status Submit(Item item);
  // Flushes every queue now; later requests are flushed as they come. Idempotent.
  void Drain();

 private:
  struct Pending;
  struct Slice;
  struct Batch;
  struct Queue;
  struct Endpoint {
    const internal::EndpointEntry* entry;
    BatchingOptions options;
    mutable metrics::BatchingMetrics metrics;  // handles are thread-safe
  };

  void TimerLoop();
  // Takes the whole queue and cuts it into batches of the endpoint's size.
  std::vector<Batch> FlushLocked(Queue& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When `queue` must be flushed: its delay after the first request, or earlier so that the
  // oldest deadline is met by the endpoint's estimated execution time.
  Clock::time_point DueLocked(const Queue& queue) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Post(std::vector<Batch> batches);
  // On the executor thread.
  void Run(Batch& batch);
  void RunInPlace(Pending& pending);
  void RunCopied(Batch& batch);
  bool DropGone(Batch& batch);
  void WriteBack(Batch& batch, const jina::DataRequestProto& answer, bool failed);
  void Finish(Pending& pending);
  // A request of `entry` left the batcher: answered, dropped, or refused at shutdown.
  void Left(const internal::EndpointEntry* entry);

  // Constant after construction.
  ReplicaRuntime* const runtime_;
  absl::flat_hash_map<const internal::EndpointEntry*, Endpoint> endpoints_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Queue>> queues_ ABSL_GUARDED_BY(mu_);
  // Running estimate of one Executor call per endpoint, for deadline flushes.
  absl::flat_hash_map<const internal::EndpointEntry*, Clock::duration> estimates_
      ABSL_GUARDED_BY(mu_);
  absl::CondVar wake_;  // the timer's: a queue was created or got an earlier deadline; stop
  int posted_ ABSL_GUARDED_BY(mu_) = 0;  // batches posted to the executor thread, not yet run
  // Requests submitted and not yet answered or dropped (queued, or in a batch not yet run), per
  // endpoint and in all: max_queue_size and the replica's max_queued_requests bound them.
  absl::flat_hash_map<const internal::EndpointEntry*, int> waiting_ ABSL_GUARDED_BY(mu_);
  size_t waiting_total_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_;  // last: starts after the members above exist
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_BATCHER_H_
