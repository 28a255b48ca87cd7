// A Post as unary process_single_data calls: the calling thread keeps at most `prefetch` calls
// in flight, retries UNAVAILABLE and DEADLINE_EXCEEDED with exponential backoff, and hands the
// responses to the collector.
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "src/client/transport.h"

namespace shoal::client {
namespace {

using jina::DataRequestProto;

// One request and its current attempt. Owned by the posting thread; gRPC touches `context` and
// `response` only while an attempt is outstanding.
struct UnaryCall {
  std::unique_ptr<DataRequestProto> request;
  std::unique_ptr<DataRequestProto> response;
  std::unique_ptr<grpc::ClientContext> context;
  int attempts = 0;
};

// Completions reported by gRPC callbacks to the posting thread. Co-owned (shared_ptr) by the
// posting thread and every outstanding callback, which may still be unlocking when the posting
// thread returns.
struct Completions {
  absl::Mutex mu;
  std::deque<std::pair<UnaryCall*, grpc::Status>> done ABSL_GUARDED_BY(mu);
};

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// The posting thread's side of a unary Post. Runs on the thread that called Post only.
class UnaryPost {
 public:
  UnaryPost(jina::JinaSingleDataRequestRPC::Stub& stub, const PostOptions& options,
            Collector& collector, const std::string& where)
      : stub_(stub),
        options_(options),
        collector_(collector),
        where_(where),
        prefetch_(options.prefetch > 0 ? options.prefetch : kDefaultPrefetch),
        completions_(std::make_shared<Completions>()) {}

  Status Run(Batcher& batcher) {
    bool input_done = false;
    while (true) {
      if (failure_.ok() && !input_done && collector_.in_flight() < prefetch_) {
        std::unique_ptr<DataRequestProto> request = batcher.Next();
        if (request == nullptr) {
          input_done = true;
        } else {
          collector_.Sent(*request);
          auto call = std::make_unique<UnaryCall>();
          call->request = std::move(request);
          UnaryCall* raw = call.get();
          calls_[raw] = std::move(call);
          Start(raw);
          continue;
        }
      }
      if (outstanding_ == 0 && (retries_.empty() || !failure_.ok()) &&
          (input_done || !failure_.ok())) {
        break;
      }
      WaitAndHandle();
      if (failure_.ok()) StartDueRetries();
    }
    return failure_;
  }

 private:
  void Start(UnaryCall* call) {
    ++call->attempts;
    ++outstanding_;
    call->response = std::make_unique<DataRequestProto>();
    call->context = std::make_unique<grpc::ClientContext>();
    if (options_.timeout.count() > 0) {
      call->context->set_deadline(std::chrono::system_clock::now() + options_.timeout);
    }
    std::shared_ptr<Completions> completions = completions_;
    stub_.async()->process_single_data(call->context.get(), call->request.get(),
                                       call->response.get(),
                                       [completions, call](grpc::Status status) {
                                         absl::MutexLock lock(&completions->mu);
                                         completions->done.emplace_back(call, std::move(status));
                                       });
  }

  void WaitAndHandle() {
    std::deque<std::pair<UnaryCall*, grpc::Status>> done;
    {
      absl::MutexLock lock(&completions_->mu);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(completions_->mu) {
        return !completions_->done.empty();
      };
      absl::Time deadline =
          retries_.empty() || !failure_.ok() ? absl::InfiniteFuture() : retries_.begin()->first;
      completions_->mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
      done.swap(completions_->done);
    }
    for (auto& [call, status] : done) {
      --outstanding_;
      Handle(call, status);
    }
  }

  void Handle(UnaryCall* call, const grpc::Status& status) {
    if (!failure_.ok()) {
      calls_.erase(call);
      return;
    }
    if (status.ok()) {
      std::string id = call->request->header().request_id();
      std::unique_ptr<DataRequestProto> response = std::move(call->response);
      calls_.erase(call);
      failure_ = collector_.Receive(id, std::move(response));
    } else if (Retryable(status.error_code()) && call->attempts < options_.max_attempts) {
      retries_.emplace(absl::Now() + Backoff(call->attempts), call);
    } else {
      auto code = static_cast<absl::StatusCode>(status.error_code());
      failure_ =
          Status(code, absl::StrCat(where_, ": request ", call->request->header().request_id(),
                                    " failed after ", call->attempts, " attempt(s): ",
                                    absl::StatusCodeToString(code), ": ", ServerMessage(status)));
      calls_.erase(call);
    }
    if (!failure_.ok()) CancelAll();
  }

  // initial * multiplier^(attempt-1), capped at max_backoff.
  absl::Duration Backoff(int attempt) const {
    double ms = static_cast<double>(options_.initial_backoff.count()) *
                std::pow(options_.backoff_multiplier, attempt - 1);
    ms = std::min(ms, static_cast<double>(options_.max_backoff.count()));
    return absl::Milliseconds(std::max(ms, 0.0));
  }

  void StartDueRetries() {
    absl::Time now = absl::Now();
    while (!retries_.empty() && retries_.begin()->first <= now) {
      UnaryCall* call = retries_.begin()->second;
      retries_.erase(retries_.begin());
      Start(call);
    }
  }

  // Ends the Post early: outstanding attempts are cancelled, pending retries dropped.
  void CancelAll() {
    for (auto& [time, call] : retries_) calls_.erase(call);
    retries_.clear();
    for (auto& [raw, call] : calls_) call->context->TryCancel();
  }

  // Constant after construction.
  jina::JinaSingleDataRequestRPC::Stub& stub_;
  const PostOptions& options_;
  Collector& collector_;
  const std::string& where_;
  const size_t prefetch_;
  const std::shared_ptr<Completions> completions_;

  absl::flat_hash_map<UnaryCall*, std::unique_ptr<UnaryCall>> calls_;  // not yet answered
  std::multimap<absl::Time, UnaryCall*> retries_;                      // waiting for a retry
  size_t outstanding_ = 0;                                             // attempts in gRPC
  Status failure_;
};

}  // namespace

Status PostUnary(jina::JinaSingleDataRequestRPC::Stub& stub, Batcher& batcher,
                 const PostOptions& options, Collector& collector, const std::string& where) {
  UnaryPost post(stub, options, collector, where);
  return post.Run(batcher);
}

}  // namespace shoal::client
