// The replica runtime: one Executor instance, its endpoint table, and the translation between
// Jina's DataRequestProto and an endpoint call. Transport-free (the gRPC server sits on top), so
// tests drive it directly.
#ifndef SHOAL_REPLICA_RUNTIME_H_
#define SHOAL_REPLICA_RUNTIME_H_

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jina.pb.h"
#include "shoal/executor.h"
#include "src/common/task_thread.h"
#include "src/executor/loader.h"
#include "src/metrics/metrics.h"

namespace shoal::replica {

// The Jina endpoint every worker lists; a dry run passes through unchanged.
inline constexpr std::string_view kDryRunEndpoint = "_jina_dry_run_";

// Owns the Executor. Process*/Close run on the executor thread only (post them with Post());
// endpoint lists are immutable after construction and readable from any thread. Records the
// replica's metrics per endpoint (metrics.h), the latency from `arrived` to the answer.
class ReplicaRuntime {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::string name;  // `name/rep-i`: served_by, __results__ key, logs
    std::filesystem::path workspace;
    size_t max_queued = 0;  // requests waiting for the Executor; 0: no limit
  };
  ReplicaRuntime(executor::LoadedExecutor loaded, Options options);
  ~ReplicaRuntime();

  // Runs `task` on the executor thread; calls of one replica never overlap.
  bool Post(absl::AnyInvocable<void()> task) { return thread_.Post(std::move(task)); }
  size_t pending() const { return thread_.pending(); }
  // Posts a request's work, unless max_queued requests already wait: RESOURCE_EXHAUSTED naming
  // the replica then (the router tries another replica), UNAVAILABLE while shutting down. With
  // `endpoint` (the request's), when the Executor allows it (ExecutorClass::inline_calls) and the
  // endpoint's calls usually take under kInlineBelow, the work runs at once on the calling thread
  // if the executor thread has nothing to do: a cheap call then costs no thread switch. Only
  // for work that does not block on a client (not a stream_doc).
  Status PostRequest(absl::AnyInvocable<void()> task, std::string_view endpoint = {});
  static constexpr std::chrono::microseconds kInlineBelow{200};
  // While one lives on a thread, PostRequest does not run work on that thread: for a thread
  // that has its own work to get back to (the one confirming leadership for reads).
  class PostOnlyScope {
   public:
    PostOnlyScope();
    ~PostOnlyScope();
    PostOnlyScope(const PostOnlyScope&) = delete;
    PostOnlyScope& operator=(const PostOnlyScope&) = delete;

   private:
    bool previous_;
  };
  // PostRequest's limit: RESOURCE_EXHAUSTED naming max_queued_requests when the queued tasks
  // and `waiting` more requests (held elsewhere, e.g. for a batch) reach it. Any thread.
  Status CheckRoom(size_t waiting = 0) const;

  // Answers `request` in place: it becomes the response. Returns true when the Executor failed
  // (the response then carries an ERROR status, as Jina's workers answer). A request whose docs
  // cannot be decoded is an InvalidArgument error, not an Executor error. `memory`, when given,
  // owns `request` (see internal::RequestState::memory); `cancelled`, when given, says whether the
  // caller is gone (Executor::request_cancelled).
  using Cancelled = std::function<bool()>;
  StatusOr<bool> Process(jina::DataRequestProto& request, Clock::time_point arrived = Clock::now(),
                         std::shared_ptr<const void> memory = nullptr,
                         Cancelled cancelled = nullptr);
  // Answers several parts in one call (a join with no_reduce): docs are the parts concatenated,
  // each part stays reachable through shoal::Request. `response` starts from the first part.
  StatusOr<bool> ProcessParts(jina::DataRequestListProto& parts, jina::DataRequestProto& response,
                              Clock::time_point arrived = Clock::now(),
                              std::shared_ptr<const void> memory = nullptr,
                              Cancelled cancelled = nullptr);

  // Decodes a request's docs and gives ids to those without one: what Process does first. Any
  // thread (requests are prepared before they are queued for a batch).
  static Status Prepare(jina::DataRequestProto& request);
  // The entry that answers `endpoint` (its own, else /default); null for a dry run or when none
  // does (the request then passes through). Any thread.
  const internal::EndpointEntry* Resolve(std::string_view endpoint) const;
  // Calls `entry` once over `batch`: its docs are those of several prepared requests, its
  // parameters theirs. True when the Executor failed or did not answer one document per input
  // (`batch` then carries the ERROR status). `cancelled`: whether every caller of the batch is
  // gone (Executor::request_cancelled). Records no per-request metrics: the caller does, with
  // RecordAnswered, and counts each request with CountProcessed. Executor thread only.
  bool RunBatch(const internal::EndpointEntry& entry, jina::DataRequestProto& batch,
                std::shared_ptr<const void> memory, Cancelled cancelled = nullptr);
  void RecordAnswered(const internal::EndpointEntry& entry, Clock::time_point arrived, bool failed);
  void CountProcessed() { processed_.fetch_add(1, std::memory_order_relaxed); }
  const std::string& deployment_name() const { return deployment_name_; }

  // Answers a stream_doc call: `request` holds the one document. A streaming endpoint writes its
  // documents to `out` as it makes them; any other endpoint answers the request, whose documents
  // are then written one by one (a request without a handler writes its document back). Returns
  // true when the Executor failed: `request`'s header then carries the ERROR status.
  StatusOr<bool> ProcessStream(jina::DataRequestProto& request, DocWriter& out,
                               Clock::time_point arrived = Clock::now(),
                               std::shared_ptr<const void> memory = nullptr);

  void FillEndpoints(jina::EndpointsProto& out) const;
  // Whether `endpoint` is handled by a write endpoint (it goes through the Raft log when the
  // Deployment is stateful). Any thread.
  bool IsWrite(std::string_view endpoint) const;
  // The Executor's Snapshot / Restore. Executor thread only.
  Status SnapshotTo(const std::filesystem::path& file) const { return executor_->Snapshot(file); }
  Status RestoreFrom(const std::filesystem::path& file) { return executor_->Restore(file); }
  // Calls the Executor's Close() once, after the last request, then stops the thread.
  void Close();
  // Waits up to `timeout` for the executor thread to run everything posted so far. Any thread.
  bool WaitIdle(absl::Duration timeout);
  // The request the Executor is running now ("endpoint '/x', request <id>, for 12.5s"), or ""
  // when it runs none. Any thread.
  std::string Running() const;

  const std::string& name() const { return options_.name; }
  // Requests answered so far (Executor errors included).
  uint64_t processed() const { return processed_.load(std::memory_order_relaxed); }
  const std::string& class_name() const { return cls_->name; }
  // shoal_replica_in_flight: the server counts each request from its arrival to its answer.
  metrics::Gauge& in_flight() { return in_flight_; }
  // A request dropped before the Executor ran it (deadline passed or client gone while queued):
  // counted in shoal_replica_dropped_total and in dropped(). Any thread.
  void CountDropped() {
    dropped_metric_.Increment();
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // DEADLINE_EXCEEDED when a request for `endpoint` should not start: its caller's `deadline`
  // has passed, or is nearer than the endpoint usually takes to run (a running average of its
  // recent calls that were not cut short, plus an eighth and 1 ms for the answer's way back).
  // Under overload this keeps the Executor on requests
  // that can still make it, instead of starting each one just as it expires. Executor thread.
  Status CheckDeadline(std::string_view endpoint,
                       std::chrono::system_clock::time_point deadline) const;

 private:
  const internal::EndpointEntry* Find(std::string_view endpoint) const;
  // Whether work for `endpoint` may run on the posting thread (PostRequest).
  bool CheapCall(std::string_view endpoint) const;
  // Calls the endpoint; a streaming one writes to `out`, or, without `out`, once per document
  // with what it writes collected as the answer.
  bool Run(const internal::EndpointEntry& entry, internal::RequestState& state,
           jina::DataRequestProto& response, Clock::time_point arrived, DocWriter* out = nullptr);
  // The Executor call and, when it fails, the error answer in `response`; no metrics. `out`:
  // where a streaming endpoint writes (null: what it writes is collected into the answer).
  bool Call(const internal::EndpointEntry& entry, internal::RequestState& state,
            jina::DataRequestProto& response, DocWriter* out = nullptr);
  // The endpoint itself, with exceptions turned into errors.
  Status Invoke(const internal::EndpointEntry& entry, Request& request, DocWriter* out);
  Status CollectStream(const internal::EndpointEntry& entry, internal::RequestState& state);

  // Constant after construction.
  const Options options_;
  const executor::ExecutorClass* cls_;
  std::string deployment_name_;                             // options_.name up to the first '/'
  std::vector<metrics::EndpointMetrics> endpoint_metrics_;  // parallel to cls_->endpoints
  // Running average of each endpoint's execution time (Clock ticks; 0 until the first call);
  // parallel to cls_->endpoints. Written by the calls, read from any thread.
  std::unique_ptr<std::atomic<int64_t>[]> typical_run_;
  metrics::Gauge in_flight_;
  metrics::Counter dropped_metric_;
  std::atomic<uint64_t> dropped_{0};
  // Owned by the executor thread.
  std::unique_ptr<Executor> executor_;
  bool closed_ = false;
  std::atomic<uint64_t> processed_{0};
  // What the Executor runs now, for a stop that has to abandon it.
  mutable absl::Mutex running_mu_;
  std::string running_endpoint_ ABSL_GUARDED_BY(running_mu_);
  std::string running_request_ ABSL_GUARDED_BY(running_mu_);
  std::optional<Clock::time_point> running_since_ ABSL_GUARDED_BY(running_mu_);
  TaskThread thread_;  // last: destroyed (joined) first
};

// Counts one request in shoal_replica_in_flight for as long as it lives: it travels inside the
// task posted to the executor thread, so a task that runs, or one dropped at shutdown, ends it.
class InFlight {
 public:
  explicit InFlight(metrics::Gauge& gauge) : gauge_(&gauge) { gauge_->Increment(); }
  InFlight(InFlight&& other) noexcept : gauge_(std::exchange(other.gauge_, nullptr)) {}
  InFlight& operator=(InFlight&&) = delete;
  ~InFlight() {
    if (gauge_ != nullptr) gauge_->Decrement();
  }

 private:
  metrics::Gauge* gauge_;
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_RUNTIME_H_
