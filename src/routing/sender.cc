// Send: an attempt chain over a ReplicaSet with per-attempt contexts.
#include "src/routing/sender.h"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "src/routing/local_replica.h"
#include "src/rpc/leader.h"

namespace shoal::routing {

int AttemptsFor(int retries, size_t replicas) {
  if (retries < 0) return static_cast<int>(std::max<size_t>(3, replicas)) + 1;
  return retries + 1;
}

namespace {

// Lives from Send() until `done` has been called.
class Call {
 public:
  Call(ReplicaSet& replicas, grpc::ByteBuffer request, SendOptions options,
       absl::AnyInvocable<void(SendResult)> done)
      : replicas_(replicas),
        request_(std::move(request)),
        options_(std::move(options)),
        done_(std::move(done)) {}

  // Starts the next attempt, or finishes with the last error.
  void Attempt() {
    if (options_.scope != nullptr && options_.scope->cancelled()) {
      result_.status = grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call");
      Finish();
      return;
    }
    std::optional<ReplicaSet::Lease> lease;
    if (result_.attempts < options_.attempts) {
      lease = replicas_.Acquire(tried_, options_.endpoint);
      if (!lease.has_value() && tried_ != 0 && WaitThenRetry()) return;
    }
    if (!lease.has_value()) {
      Finish();
      return;
    }
    ++result_.attempts;
    if (result_.attempts > 1) lease->endpoint->metrics.retries.Increment();
    if (lease->index < 64) tried_ |= uint64_t{1} << lease->index;
    tried_endpoints_.push_back(lease->endpoint);
    lease_ = std::move(*lease);
    if (lease_.endpoint->address.local != nullptr && options_.method == kProcessSingleData) {
      SendLocal();
      return;
    }
    if (options_.scope != nullptr && options_.scope->streams() && !unary_only_ &&
        options_.method == kProcessSingleData && SendOnStream()) {
      return;
    }
    SendUnary();
  }

 private:
  // Every replica has been tried and attempts remain: as Jina, try them again, after a pause
  // that gives a restarting replica time to come back (100 ms, doubling up to 1.6 s; at most
  // 400 ms while followers refuse). False when the deadline leaves no room for it.
  bool WaitThenRetry() {
    auto pause = std::chrono::milliseconds(100 << std::min(rounds_, 4));
    // A Raft election (followers said "not the leader") ends within an election timeout or
    // two: look again sooner than a restarting replica needs.
    if (refused_) pause = std::min(pause, std::chrono::milliseconds(400));
    auto wake = std::chrono::system_clock::now() + pause;
    if (options_.deadline.has_value() && wake >= *options_.deadline) return false;
    ++rounds_;
    tried_ = 0;
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(wake, [this](bool) { Attempt(); });
    return true;
  }

  // As Jina: UNAVAILABLE, and an attempt that ran out of its own time (timeout_send) while the
  // caller's deadline still leaves time, go to another replica; so does a full replica. Once every
  // attempt failed so, the answer is UNAVAILABLE naming the replicas tried.
  bool Retryable(const grpc::Status& status) const {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return true;
    // A replica whose queue is full (max_queued_requests, or a batching endpoint's
    // max_queue_size): another one may have room. A request
    // over a limit (max_docs_per_request, the message size) is over it on every replica.
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      const std::string& message = status.error_message();
      return message.find("(max_queued_requests)") != std::string::npos ||
             message.find("(max_queue_size)") != std::string::npos;
    }
    return status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
           options_.timeout.has_value() &&
           (!options_.deadline.has_value() ||
            std::chrono::system_clock::now() < *options_.deadline);
  }

  // The attempt's deadline: the caller's, or sooner the attempt's own timeout.
  std::optional<std::chrono::system_clock::time_point> AttemptDeadline() const {
    std::optional<std::chrono::system_clock::time_point> deadline = options_.deadline;
    if (options_.timeout.has_value()) {
      auto attempt_deadline = std::chrono::system_clock::now() + *options_.timeout;
      deadline = deadline.has_value() ? std::min(*deadline, attempt_deadline) : attempt_deadline;
    }
    return deadline;
  }

  void SendUnary() {
    context_ = std::make_shared<grpc::ClientContext>();
    for (const auto& [key, value] : options_.metadata) context_->AddMetadata(key, value);
    if (auto deadline = AttemptDeadline(); deadline.has_value()) context_->set_deadline(*deadline);
    if (options_.scope != nullptr) options_.scope->Register(context_);
    response_.Clear();
    lease_.endpoint->stub->UnaryCall(
        context_.get(), options_.method, grpc::StubOptions(), &request_, &response_,
        [this](grpc::Status status) {
          std::multimap<std::string, std::string> trailing;
          for (const auto& [key, value] : context_->GetServerTrailingMetadata()) {
            trailing.emplace(std::string(key.data(), key.size()),
                             std::string(value.data(), value.size()));
          }
          Completed(std::move(status), rpc::RefusedAsNotLeader(*context_), std::move(response_),
                    std::move(trailing));
        });
  }

  // The request to a replica in this process, without a gRPC call. As a gRPC attempt would, it
  // ends DEADLINE_EXCEEDED at the attempt's deadline (timeout_send, the caller's) even while the
  // Executor still runs it; the Executor then sees request_cancelled() and its answer is dropped.
  void SendLocal() {
    std::shared_ptr<CallScope> scope = options_.scope;
    const std::optional<std::chrono::system_clock::time_point> deadline = AttemptDeadline();
    // Taken first: once the alarm is set it may end this Call at any moment, on another thread,
    // so nothing below may touch `this` after Set.
    const std::shared_ptr<LocalReplica> local = lease_.endpoint->address.local;
    const grpc::ByteBuffer request = request_;  // shares the slices
    // Whichever of the answer and the deadline comes first ends the attempt; `this` may be gone
    // when the other comes.
    auto decided = std::make_shared<std::atomic<bool>>(false);
    auto late = [this] {
      Completed(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                             "no answer from the replica within the deadline"),
                /*not_leader=*/false, grpc::ByteBuffer(), {});
    };
    if (deadline.has_value()) {
      attempt_alarm_ = std::make_unique<grpc::Alarm>();
      attempt_alarm_->Set(*deadline, [decided, late](bool fired) {
        if (fired && !decided->exchange(true)) late();
      });
    }
    // `local` is held here: `done` may run (and this Call end) before Call returns.
    local->Call(
        request, deadline.value_or(std::chrono::system_clock::time_point::max()),
        [scope, decided] { return decided->load() || (scope != nullptr && scope->cancelled()); },
        [this, decided, deadline, late](LocalReplica::Answer answer) {
          if (decided->exchange(true)) return;
          // An answer made after the deadline is dropped, as a gRPC client drops it (an
          // Executor that saw request_cancelled() may have answered just before the alarm).
          if (deadline.has_value() && std::chrono::system_clock::now() >= *deadline) {
            late();
            return;
          }
          std::multimap<std::string, std::string> trailing;
          if (answer.is_error) trailing.emplace("is-error", "true");
          Completed(std::move(answer.status), /*not_leader=*/false, std::move(answer.response),
                    std::move(trailing));
        });
  }

  // The request as a message of the client's stream to the leased replica; its wait for the
  // answer is bounded by the attempt's timeout. False when it must go as a unary call.
  bool SendOnStream() {
    std::optional<std::chrono::system_clock::time_point> expiry;
    if (options_.timeout.has_value()) expiry = std::chrono::system_clock::now() + *options_.timeout;
    std::shared_ptr<DownstreamStream> stream =
        options_.scope->StreamTo(lease_.endpoint, options_.metadata);
    return stream->Send(request_, expiry, [this](DownstreamStream::Answer answer) {
      StreamAnswered(std::move(answer));
    });
  }

  void StreamAnswered(DownstreamStream::Answer answer) {
    // Cancelled, or past the client's deadline (the stream's): final for every message.
    const grpc::StatusCode code = answer.status.error_code();
    const bool final =
        code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (answer.unanswered && !answer.not_leader && !final && !Retryable(answer.status)) {
      // The stream's status may be another message's: this one goes again, alone, as a unary
      // call to the same choice of replicas, and does not count as an attempt.
      replicas_.Release(lease_, grpc::Status::OK);
      if (lease_.index < 64) tried_ &= ~(uint64_t{1} << lease_.index);
      tried_endpoints_.pop_back();
      --result_.attempts;
      unary_only_ = true;
      Attempt();
      return;
    }
    std::multimap<std::string, std::string> trailing;
    if (answer.is_error) trailing.emplace("is-error", "true");
    Completed(std::move(answer.status), answer.not_leader, std::move(answer.response),
              std::move(trailing));
  }

  void Completed(grpc::Status status, bool not_leader, grpc::ByteBuffer response,
                 std::multimap<std::string, std::string> trailing) {
    // A stateful replica's follower refused the call (rpc/leader.h): the leader is elsewhere.
    replicas_.Release(lease_, status, not_leader);
    if (not_leader) {
      refused_ = true;
      replicas_.ForgetLeader(options_.endpoint, lease_);
    } else if (status.ok() && refused_) {
      replicas_.NoteLeader(options_.endpoint, lease_);
    }
    result_.replica = lease_.endpoint->label;
    result_.status = std::move(status);
    if (Retryable(result_.status)) {
      Attempt();  // another replica, or Finish() when the budget or the replicas are spent
      return;
    }
    result_.trailing.merge(trailing);
    result_.response = std::move(response);
    Finish();
  }

  // gRPC's own errors name the address they dialled; clients see the replica's label instead.
  std::string ForClients(std::string message) const {
    for (const std::shared_ptr<Endpoint>& e : tried_endpoints_) {
      const std::string target = e->address.target();
      for (const std::string& address : {"ipv4:" + target, "ipv6:" + target, target, e->display}) {
        if (address == e->label) continue;
        message = absl::StrReplaceAll(message, {{address, e->label}});
      }
    }
    return message;
  }

  void Finish() {
    if (result_.attempts == 0) {
      if (result_.status.ok()) {  // else cancelled before any attempt
        result_.status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                      absl::StrCat(replicas_.name(), ": no replica to send to"));
      }
    } else if (Retryable(result_.status)) {
      result_.status = grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat(replicas_.name(), ": ", result_.attempts, " attempt(s) failed (tried ",
                       absl::StrJoin(tried_endpoints_, ", ",
                                     [](std::string* out, const std::shared_ptr<Endpoint>& e) {
                                       out->append(e->label);
                                     }),
                       "); last error: ", ForClients(result_.status.error_message())));
    } else if (!result_.status.ok()) {
      result_.status = grpc::Status(result_.status.error_code(),
                                    absl::StrCat(replicas_.name(), " replica ", result_.replica,
                                                 ": ", ForClients(result_.status.error_message())));
    }
    auto done = std::move(done_);
    SendResult result = std::move(result_);
    delete this;
    done(std::move(result));
  }

  ReplicaSet& replicas_;
  grpc::ByteBuffer request_;
  const SendOptions options_;
  absl::AnyInvocable<void(SendResult)> done_;
  uint64_t tried_ = 0;
  int rounds_ = 0;                              // times every replica had been tried
  bool refused_ = false;                        // a replica answered "not the leader"
  std::unique_ptr<grpc::Alarm> alarm_;          // the pause before trying them again
  std::unique_ptr<grpc::Alarm> attempt_alarm_;  // a direct attempt's deadline (SendLocal)
  std::vector<std::shared_ptr<Endpoint>> tried_endpoints_;  // in attempt order, for errors
  ReplicaSet::Lease lease_;
  bool unary_only_ = false;  // a stream's ambiguous end: the rest goes as unary calls
  std::shared_ptr<grpc::ClientContext> context_;
  grpc::ByteBuffer response_;
  SendResult result_;
};

}  // namespace

void Send(ReplicaSet& replicas, grpc::ByteBuffer request, SendOptions options,
          absl::AnyInvocable<void(SendResult)> done) {
  (new Call(replicas, std::move(request), std::move(options), std::move(done)))->Attempt();
}

}  // namespace shoal::routing
