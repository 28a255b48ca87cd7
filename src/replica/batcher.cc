// Batcher: queues per (endpoint, parameters), flushes on size, delay or deadline, and runs each
// batch as one Executor call whose answer is split back into the requests it came from.
#include "src/replica/batcher.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "src/common/strings.h"

namespace shoal::replica {

// One queued request. Co-owned by its slices (shared_ptr): a request larger than a batch is cut
// into slices of several batches, and answered when the last of them ran.
struct Batcher::Pending {
  Item item;
  const Endpoint* endpoint = nullptr;
  // Written under mu_ when the queue is cut into batches, read and written on the executor
  // thread afterwards (the post to that thread orders the two).
  int outstanding = 0;  // slices not yet run
  bool finished = false;
  bool failed = false;
};

// Documents [begin, end) of one request.
struct Batcher::Slice {
  std::shared_ptr<Pending> pending;
  int begin = 0;
  int end = 0;
};

struct Batcher::Batch {
  const Endpoint* endpoint = nullptr;
  std::vector<Slice> slices;
  int docs = 0;
};

struct Batcher::Queue {
  const Endpoint* endpoint = nullptr;
  std::vector<Slice> slices;
  int docs = 0;
  int requests = 0;
  Clock::time_point first;
  std::optional<Clock::time_point> deadline;  // the earliest of its requests'
};

namespace {

constexpr int kNoLimit = std::numeric_limits<int>::max();
// A queue flushed for a deadline is flushed this much before the call would have to start: the
// hop to the executor thread, and room for an estimate that runs short.
constexpr Batcher::Clock::duration kDeadlineMargin = std::chrono::milliseconds(5);

// The docs one Executor call gets at most.
int BatchCap(const BatchingOptions& options) {
  int cap = options.max_batch_size > 0 ? options.max_batch_size : kNoLimit;
  if (!options.flush_all && options.preferred_batch_size > 0) {
    cap = std::min(cap, options.preferred_batch_size);
  }
  return cap;
}

// A queue with this many docs is flushed at once.
int FlushSize(const BatchingOptions& options) {
  int size = options.max_batch_size > 0 ? options.max_batch_size : kNoLimit;
  if (options.preferred_batch_size > 0) size = std::min(size, options.preferred_batch_size);
  return size;
}

Batcher::Clock::duration Delay(const BatchingOptions& options) {
  if (options.max_queue_delay_us > 0) return std::chrono::microseconds(options.max_queue_delay_us);
  return std::chrono::milliseconds(options.timeout_ms);
}

// The queue of a request: its endpoint and its parameters, serialized deterministically.
std::string QueueKey(const internal::EndpointEntry& entry, const jina::DataRequestProto& request) {
  std::string key = entry.name;
  key.push_back('\0');
  google::protobuf::io::StringOutputStream stream(&key);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  request.parameters().SerializeToCodedStream(&coded);
  return key;
}

std::string ParametersJson(const jina::DataRequestProto& request) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(request.parameters(), &json).ok()) {
    return "<parameters>";
  }
  return json;
}

Status CheckOptions(std::string_view endpoint, const BatchingOptions& o, std::string_view source) {
  auto bad = [&](std::string_view key, int64_t value, std::string_view want) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: dynamic batching of endpoint '%s': %s is %d; expected %s", source,
                        endpoint, key, value, want));
  };
  if (o.preferred_batch_size < 0) return bad("preferred_batch_size", o.preferred_batch_size, "> 0");
  if (o.timeout_ms <= 0) return bad("timeout", o.timeout_ms, "> 0 (milliseconds)");
  if (o.max_queue_delay_us < 0) return bad("max_queue_delay", o.max_queue_delay_us, "> 0");
  if (o.max_batch_size < 0) return bad("max_batch_size", o.max_batch_size, "> 0");
  if (o.max_queue_size < 0) return bad("max_queue_size", o.max_queue_size, "> 0");
  return absl::OkStatus();
}

// A batch's call: one message in its own arena, shared with the Executor (RequestState::memory).
struct BatchMessage {
  google::protobuf::Arena arena;
  jina::DataRequestProto* proto =
      google::protobuf::Arena::CreateMessage<jina::DataRequestProto>(&arena);
};

}  // namespace

namespace {

const internal::EndpointEntry* FindEntry(const executor::ExecutorClass& cls,
                                         std::string_view name) {
  for (const internal::EndpointEntry& entry : cls.endpoints.entries) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// Puts the entries of `from` into `table`, over what is there.
Status ApplySource(const executor::ExecutorClass& cls, const config::DynamicBatchingTable& from,
                   std::string_view source, BatchingTable& table) {
  for (const auto& [name, options] : from) {
    if (FindEntry(cls, name) == nullptr) {
      std::vector<std::string> names;
      for (const internal::EndpointEntry& entry : cls.endpoints.entries) {
        names.push_back(entry.name);
      }
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: dynamic batching of endpoint '%s': Executor %s has no such endpoint (it has: %s)",
          source, name, cls.name, absl::StrJoin(names, ", ")));
    }
    if (!options.has_value()) {
      table.erase(name);
      continue;
    }
    SHOAL_RETURN_IF_ERROR(CheckOptions(name, *options, source));
    table[name] = *options;
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<BatchingTable> ResolveBatching(const executor::ExecutorClass& cls,
                                        const BatchingSources& sources) {
  BatchingTable table;
  for (const internal::EndpointEntry& entry : cls.endpoints.entries) {
    if (!entry.batching.has_value()) continue;
    SHOAL_RETURN_IF_ERROR(CheckOptions(entry.name, *entry.batching, cls.name));
    table[entry.name] = *entry.batching;
  }
  SHOAL_RETURN_IF_ERROR(ApplySource(cls, sources.yaml, sources.yaml_source, table));
  SHOAL_RETURN_IF_ERROR(ApplySource(cls, sources.deployment, "uses_dynamic_batching", table));
  // A stateful Deployment applies each write as one Raft log entry in one Executor call, on
  // every replica alike; a batch would tie the answers of unrelated entries together. A streaming
  // endpoint answers one document at a time, as it writes them, not one per input.
  for (const auto& [name, options] : table) {
    if (FindEntry(cls, name)->is_generator()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "dynamic batching of endpoint '%s' is not allowed: it is a streaming endpoint, which "
          "answers document by document as it writes them",
          name));
    }
    if (sources.stateful && FindEntry(cls, name)->write) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "dynamic batching of endpoint '%s' is not allowed: it is a write endpoint of a "
          "stateful Deployment, and each write is applied as one Raft log entry by one call",
          name));
    }
  }
  return table;
}

Batcher::Batcher(ReplicaRuntime* runtime, BatchingTable table) : runtime_(runtime) {
  for (const auto& [name, options] : table) {
    const internal::EndpointEntry* entry = runtime->Resolve(name);
    if (entry == nullptr || entry->name != name) continue;  // ResolveBatching checked the names
    endpoints_.emplace(entry, Endpoint{entry, options,
                                       metrics::ForBatchingEndpoint(runtime->deployment_name(),
                                                                    runtime->name(), name)});
  }
  timer_ = std::thread([this] { TimerLoop(); });
}

Batcher::~Batcher() {
  Drain();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  timer_.join();
  // Batches already posted borrow this object until they ran.
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* posted) { return *posted == 0; }, &posted_));
}

bool Batcher::Batches(std::string_view exec_endpoint) const {
  if (endpoints_.empty()) return false;
  const internal::EndpointEntry* entry = runtime_->Resolve(exec_endpoint);
  return entry != nullptr && endpoints_.contains(entry);
}

Status Batcher::Submit(Item item) {
  const jina::DataRequestProto& request = *item.request;
  auto endpoint = endpoints_.find(runtime_->Resolve(request.header().exec_endpoint()));
  if (endpoint == endpoints_.end()) {
    return absl::InternalError("a request for an endpoint without batching reached the batcher");
  }
  const BatchingOptions& options = endpoint->second.options;
  std::string key = QueueKey(*endpoint->second.entry, request);
  const int docs = request.data().docs().docs_size();
  auto pending = std::make_shared<Pending>();
  pending->item = std::move(item);
  pending->endpoint = &endpoint->second;
  std::vector<Batch> ready;
  {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Queue>& queue = queues_[key];
    if (queue == nullptr) queue = std::make_unique<Queue>(Queue{.endpoint = &endpoint->second});
    int& waiting = waiting_[endpoint->second.entry];
    if (options.max_queue_size > 0 && waiting >= options.max_queue_size) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "endpoint '%s': dynamic batching holds %d requests not yet run (max_queue_size); "
          "this one has parameters %s",
          request.header().exec_endpoint(), options.max_queue_size, ParametersJson(request)));
    }
    SHOAL_RETURN_IF_ERROR(runtime_->CheckRoom(waiting_total_));
    ++waiting;
    ++waiting_total_;
    const bool first = queue->requests == 0;
    if (first) queue->first = Clock::now();
    ++queue->requests;
    queue->docs += docs;
    bool earlier_deadline = false;
    if (const auto& deadline = pending->item.deadline; deadline.has_value()) {
      earlier_deadline = !queue->deadline.has_value() || *deadline < *queue->deadline;
      if (earlier_deadline) queue->deadline = deadline;
    }
    queue->slices.push_back(Slice{std::move(pending), 0, docs});
    if (draining_ || queue->docs >= FlushSize(options)) {
      ready = FlushLocked(*queue);
      queues_.erase(key);
    } else if (first || earlier_deadline) {
      wake_.Signal();  // the timer's next wake-up may have moved earlier
    }
  }
  Post(std::move(ready));
  return absl::OkStatus();
}

void Batcher::Drain() {
  std::vector<Batch> ready;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    for (auto& [key, queue] : queues_) {
      std::vector<Batch> flushed = FlushLocked(*queue);
      std::move(flushed.begin(), flushed.end(), std::back_inserter(ready));
    }
    queues_.clear();
  }
  Post(std::move(ready));
}

std::vector<Batcher::Batch> Batcher::FlushLocked(Queue& queue) {
  const int cap = BatchCap(queue.endpoint->options);
  std::vector<Batch> batches;
  Batch current{.endpoint = queue.endpoint};
  for (Slice& slice : queue.slices) {
    int begin = slice.begin;
    while (begin < slice.end) {
      const int take = std::min(cap - current.docs, slice.end - begin);
      current.slices.push_back(Slice{slice.pending, begin, begin + take});
      ++slice.pending->outstanding;
      current.docs += take;
      begin += take;
      if (current.docs == cap) {
        batches.push_back(std::move(current));
        current = Batch{.endpoint = queue.endpoint};
      }
    }
  }
  if (!current.slices.empty()) batches.push_back(std::move(current));
  queue.slices.clear();
  queue.docs = 0;
  queue.requests = 0;
  return batches;
}

Batcher::Clock::time_point Batcher::DueLocked(const Queue& queue) const {
  Clock::time_point due = queue.first + Delay(queue.endpoint->options);
  if (queue.deadline.has_value()) {
    auto estimate = estimates_.find(queue.endpoint->entry);
    const Clock::duration run =
        estimate == estimates_.end() ? Clock::duration::zero() : estimate->second;
    due = std::min(due, *queue.deadline - run - kDeadlineMargin);
  }
  return due;
}

void Batcher::TimerLoop() {
  while (true) {
    std::vector<Batch> ready;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      const Clock::time_point now = Clock::now();
      std::optional<Clock::time_point> next;
      for (auto it = queues_.begin(); it != queues_.end();) {
        const Clock::time_point due = DueLocked(*it->second);
        if (due <= now) {
          std::vector<Batch> flushed = FlushLocked(*it->second);
          std::move(flushed.begin(), flushed.end(), std::back_inserter(ready));
          queues_.erase(it++);
          continue;
        }
        if (!next.has_value() || due < *next) next = due;
        ++it;
      }
      if (ready.empty()) {
        if (next.has_value()) {
          wake_.WaitWithTimeout(&mu_, absl::FromChrono(*next - now));
        } else {
          wake_.Wait(&mu_);
        }
        continue;
      }
    }
    Post(std::move(ready));
  }
}

void Batcher::Post(std::vector<Batch> batches) {
  for (Batch& batch : batches) {
    {
      absl::MutexLock lock(&mu_);
      ++posted_;
    }
    auto shared = std::make_shared<Batch>(std::move(batch));
    if (runtime_->Post([this, shared] { Run(*shared); })) continue;
    // The executor thread has stopped: nothing will run these.
    for (Slice& slice : shared->slices) {
      Pending& pending = *slice.pending;
      if (pending.finished) continue;
      pending.finished = true;
      Left(pending.endpoint->entry);
      pending.item.done(absl::UnavailableError("replica is shutting down"));
    }
    absl::MutexLock lock(&mu_);
    --posted_;
  }
}

bool Batcher::DropGone(Batch& batch) {
  const Clock::time_point now = Clock::now();
  std::vector<Slice> kept;
  kept.reserve(batch.slices.size());
  for (Slice& slice : batch.slices) {
    Pending& pending = *slice.pending;
    if (!pending.finished) {
      const bool expired = pending.item.deadline.has_value() && now >= *pending.item.deadline;
      const bool cancelled = !expired && pending.item.cancelled && pending.item.cancelled();
      if (expired || cancelled) {
        pending.finished = true;
        Left(pending.endpoint->entry);
        runtime_->CountDropped();
        pending.item.done(expired ? absl::DeadlineExceededError(
                                        "the deadline passed while the request was queued")
                                  : absl::CancelledError("the client cancelled the request"));
      }
    }
    if (!pending.finished) kept.push_back(std::move(slice));
  }
  batch.slices = std::move(kept);
  batch.docs = 0;
  for (const Slice& slice : batch.slices) batch.docs += slice.end - slice.begin;
  return batch.slices.empty();
}

void Batcher::Run(Batch& batch) {
  if (!DropGone(batch)) {
    const Endpoint& endpoint = *batch.endpoint;
    const Clock::time_point start = Clock::now();
    for (const Slice& slice : batch.slices) {
      if (slice.begin == 0) {
        endpoint.metrics.queue_time.Observe(
            std::chrono::duration<double>(start - slice.pending->item.arrived).count());
      }
    }
    endpoint.metrics.batch_size.Observe(batch.docs);
    const Slice& first = batch.slices.front();
    if (batch.slices.size() == 1 && first.begin == 0 &&
        first.end == first.pending->item.request->data().docs().docs_size()) {
      RunInPlace(*first.pending);
    } else {
      RunCopied(batch);
    }
    const Clock::duration took = Clock::now() - start;
    endpoint.metrics.execution_time.Observe(std::chrono::duration<double>(took).count());
    absl::MutexLock lock(&mu_);
    Clock::duration& estimate = estimates_[endpoint.entry];
    estimate = estimate == Clock::duration::zero() ? took : (estimate * 7 + took) / 8;
  }
  batch.slices.clear();  // the requests' memory goes before the next batch runs
  absl::MutexLock lock(&mu_);
  --posted_;
}

void Batcher::RunInPlace(Pending& pending) {
  // A batch of one whole request: the Executor answers the request itself, as unbatched.
  Item& item = pending.item;
  pending.failed = runtime_->RunBatch(*pending.endpoint->entry, *item.request, item.memory,
                                      [&item] { return item.cancelled && item.cancelled(); });
  if (--pending.outstanding == 0) Finish(pending);
}

void Batcher::RunCopied(Batch& batch) {
  auto message = std::make_shared<BatchMessage>();
  jina::DataRequestProto& call = *message->proto;
  const jina::DataRequestProto& first = *batch.slices.front().pending->item.request;
  *call.mutable_header() = first.header();
  *call.mutable_parameters() = first.parameters();
  docarray::DocListProto* docs = call.mutable_data()->mutable_docs();
  for (const Slice& slice : batch.slices) {
    const docarray::DocListProto& own = slice.pending->item.request->data().docs();
    for (int i = slice.begin; i < slice.end; ++i) *docs->add_docs() = own.docs(i);
  }
  // The Executor may stop early (request_cancelled()) once nobody waits for any of the answers.
  auto everyone_gone = [&batch] {
    for (Slice& slice : batch.slices) {
      Item& item = slice.pending->item;
      if (!item.cancelled || !item.cancelled()) return false;
    }
    return true;
  };
  const bool failed = runtime_->RunBatch(*batch.endpoint->entry, call, message, everyone_gone);
  WriteBack(batch, call, failed);
}

void Batcher::WriteBack(Batch& batch, const jina::DataRequestProto& answer, bool failed) {
  const docarray::DocListProto& out = answer.data().docs();
  const auto results = answer.parameters().fields().find("__results__");
  int offset = 0;
  for (const Slice& slice : batch.slices) {
    Pending& pending = *slice.pending;
    jina::DataRequestProto& request = *pending.item.request;
    if (failed) {
      *request.mutable_header()->mutable_status() = answer.header().status();
      pending.failed = true;
    } else {
      docarray::DocListProto& own = *request.mutable_data()->mutable_docs();
      for (int i = slice.begin; i < slice.end; ++i) {
        *own.mutable_docs(i) = out.docs(offset + i - slice.begin);
      }
      if (results != answer.parameters().fields().end()) {
        (*request.mutable_parameters()->mutable_fields())["__results__"] = results->second;
      }
    }
    offset += slice.end - slice.begin;
    if (--pending.outstanding == 0) Finish(pending);
  }
}

void Batcher::Left(const internal::EndpointEntry* entry) {
  absl::MutexLock lock(&mu_);
  --waiting_[entry];
  --waiting_total_;
}

void Batcher::Finish(Pending& pending) {
  if (pending.finished) return;
  pending.finished = true;
  Left(pending.endpoint->entry);
  runtime_->CountProcessed();
  runtime_->RecordAnswered(*pending.endpoint->entry, pending.item.arrived, pending.failed);
  pending.item.done(pending.failed);
}

}  // namespace shoal::replica
