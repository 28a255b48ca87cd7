// A Post over one JinaRPC/Call bidi stream: the calling thread pulls requests from the batcher
// and writes them one at a time, keeping at most `prefetch` unanswered, while the reactor queues
// the responses for it.
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "src/client/transport.h"

namespace shoal::client {
namespace {

using jina::DataRequestProto;

// What the reactor reports to the posting thread. Co-owned by both (shared_ptr) because the
// reactor deletes itself in OnDone, possibly while the posting thread still reads this.
struct StreamEvents {
  absl::Mutex mu;
  std::deque<std::unique_ptr<DataRequestProto>> responses ABSL_GUARDED_BY(mu);
  bool write_pending ABSL_GUARDED_BY(mu) = false;
  bool write_failed ABSL_GUARDED_BY(mu) = false;
  bool reads_done ABSL_GUARDED_BY(mu) = false;
  bool done ABSL_GUARDED_BY(mu) = false;
  grpc::Status status ABSL_GUARDED_BY(mu);
};

// The client side of one Call stream. Created and started by the posting thread, which holds a
// hold (AddHold) on it until it no longer touches it; deletes itself in OnDone. Reactions run on
// gRPC threads and never block: they only queue events.
class CallReactor final : public grpc::ClientBidiReactor<DataRequestProto, DataRequestProto> {
 public:
  CallReactor(jina::JinaRPC::Stub& stub, const PostOptions& options,
              std::shared_ptr<StreamEvents> events)
      : events_(std::move(events)), incoming_(std::make_unique<DataRequestProto>()) {
    if (options.results_in_order) context_.AddMetadata("__results_in_order__", "true");
    if (options.prefetch > 0) {
      context_.AddMetadata("__prefetch__", std::to_string(options.prefetch));
    }
    stub.async()->Call(&context_, this);
    StartRead(incoming_.get());
    AddHold();
    StartCall();
  }

  // Posting thread only, with no write pending and before Release().
  void Write(std::unique_ptr<DataRequestProto> request) {
    {
      absl::MutexLock lock(&events_->mu);
      events_->write_pending = true;
    }
    outgoing_ = std::move(request);
    StartWrite(outgoing_.get());
  }
  void CloseWrites() { StartWritesDone(); }
  void Cancel() { context_.TryCancel(); }
  // The posting thread's last touch: after this the reactor may be gone.
  void Release() { RemoveHold(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&events_->mu);
      events_->reads_done = true;
      return;
    }
    auto next = std::make_unique<DataRequestProto>();
    DataRequestProto* raw = next.get();
    {
      absl::MutexLock lock(&events_->mu);
      events_->responses.push_back(std::move(incoming_));
    }
    incoming_ = std::move(next);
    StartRead(raw);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&events_->mu);
    events_->write_pending = false;
    if (!ok) events_->write_failed = true;
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&events_->mu);
      events_->done = true;
      events_->status = status;
    }
    delete this;
  }

 private:
  std::shared_ptr<StreamEvents> events_;
  grpc::ClientContext context_;
  std::unique_ptr<DataRequestProto> incoming_;  // touched by read reactions only
  std::unique_ptr<DataRequestProto> outgoing_;  // the write in progress
};

// Send times of unanswered requests, oldest first, for the per-request timeout.
class SendTimes {
 public:
  void Sent(const std::string& id) { order_.emplace_back(absl::Now(), id); }
  void Answered(const std::string& id) { answered_.insert(id); }
  // When the oldest unanswered request was sent (InfiniteFuture when none).
  absl::Time Oldest() {
    while (!order_.empty()) {
      auto it = answered_.find(order_.front().second);
      if (it == answered_.end()) return order_.front().first;
      answered_.erase(it);
      order_.pop_front();
    }
    return absl::InfiniteFuture();
  }

 private:
  std::deque<std::pair<absl::Time, std::string>> order_;
  absl::flat_hash_set<std::string> answered_;
};

Status StreamError(const grpc::Status& status, const std::string& where) {
  auto code = static_cast<absl::StatusCode>(status.error_code());
  return Status(code, absl::StrCat(where, ": JinaRPC/Call stream failed: ",
                                   absl::StatusCodeToString(code), ": ", ServerMessage(status)));
}

}  // namespace

Status PostOverStream(jina::JinaRPC::Stub& stub, Batcher& batcher, const PostOptions& options,
                      Collector& collector, const std::string& where) {
  const size_t prefetch = options.prefetch > 0 ? options.prefetch : kDefaultPrefetch;
  const absl::Duration timeout = absl::FromChrono(options.timeout);
  auto events = std::make_shared<StreamEvents>();
  auto* reactor = new CallReactor(stub, options, events);
  Status failure;
  bool writes_closed = false;
  bool cancelled = false;
  SendTimes send_times;
  std::deque<std::unique_ptr<DataRequestProto>> responses;
  while (true) {
    const bool want_write = !writes_closed && failure.ok() && collector.in_flight() < prefetch;
    bool write_pending, write_failed, reads_done;
    {
      absl::MutexLock lock(&events->mu);
      auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(events->mu) {
        return !events->responses.empty() || events->reads_done ||
               (want_write && !events->write_pending);
      };
      absl::Condition condition(&ready);
      if (timeout > absl::ZeroDuration() && collector.in_flight() > 0 && !cancelled) {
        events->mu.AwaitWithDeadline(condition, send_times.Oldest() + timeout);
      } else {
        events->mu.Await(condition);
      }
      responses.swap(events->responses);
      write_pending = events->write_pending;
      write_failed = events->write_failed;
      reads_done = events->reads_done;
    }
    for (auto& response : responses) {
      std::string id = response->header().request_id();
      send_times.Answered(id);
      if (failure.ok()) failure = collector.Receive(id, std::move(response));
    }
    responses.clear();
    if (reads_done) break;
    if (failure.ok() && timeout > absl::ZeroDuration() && collector.in_flight() > 0 &&
        absl::Now() >= send_times.Oldest() + timeout) {
      failure = absl::DeadlineExceededError(absl::StrCat(
          where, ": no response within ", absl::FormatDuration(timeout), " (", collector.sent(),
          " requests sent, ", collector.in_flight(), " unanswered)"));
    }
    if (!failure.ok() || write_failed) {
      if (!cancelled) reactor->Cancel();
      cancelled = true;
      writes_closed = true;
      continue;
    }
    if (want_write && !write_pending) {
      std::unique_ptr<DataRequestProto> request = batcher.Next();
      if (request == nullptr) {
        reactor->CloseWrites();
        writes_closed = true;
      } else {
        collector.Sent(*request);
        send_times.Sent(request->header().request_id());
        reactor->Write(std::move(request));
      }
    }
  }
  reactor->Release();
  grpc::Status status;
  {
    absl::MutexLock lock(&events->mu);
    events->mu.Await(absl::Condition(&events->done));
    status = events->status;
  }
  if (!failure.ok()) return failure;
  if (!status.ok()) return StreamError(status, where);
  if (!writes_closed || collector.in_flight() > 0) {
    return absl::UnavailableError(absl::StrCat(where, ": the server closed the stream with ",
                                               collector.in_flight(), " of ", collector.sent(),
                                               " requests unanswered"));
  }
  return absl::OkStatus();
}

}  // namespace shoal::client
