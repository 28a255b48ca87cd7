// DocStream: each attempt is a bidi reactor on the replica's generic stub (one request written,
// then reads), holding itself open until its reads end so that gRPC calls OnDone only after the
// last message was taken.
#include "src/routing/stream_doc.h"

#include <grpcpp/generic/generic_stub.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/rpc/single_doc.h"

namespace shoal::routing {

class DocStream::Attempt : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Attempt(DocStream* owner, ReplicaSet::Lease lease)
      : owner_(owner),
        lease_(std::move(lease)),
        context_(std::make_shared<grpc::ClientContext>()) {}

  void Start(const grpc::ByteBuffer& request,
             std::optional<std::chrono::system_clock::time_point> deadline,
             std::optional<std::chrono::milliseconds> timeout) {
    if (timeout.has_value()) {
      auto attempt = std::chrono::system_clock::now() + *timeout;
      deadline = deadline.has_value() ? std::min(*deadline, attempt) : attempt;
    }
    if (deadline.has_value()) context_->set_deadline(*deadline);
    request_ = request;
    lease_.endpoint->stub->PrepareBidiStreamingCall(context_.get(), rpc::kStreamDoc,
                                                    grpc::StubOptions(), this);
    AddHold();
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&message_);
    StartCall();
  }

  void Read() { StartRead(&message_); }
  const std::shared_ptr<grpc::ClientContext>& context() const { return context_; }
  const ReplicaSet::Lease& lease() const { return lease_; }

  void OnReadDone(bool ok) override {
    if (!ok) {
      RemoveHold();
      return;
    }
    owner_->Received(this, std::move(message_));
  }
  void OnDone(const grpc::Status& status) override {
    owner_->AttemptDone(this, status);
    delete this;
  }

 private:
  DocStream* const owner_;
  const ReplicaSet::Lease lease_;
  // Shared with Cancel, which may call TryCancel while the attempt ends.
  const std::shared_ptr<grpc::ClientContext> context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer message_;
};

std::shared_ptr<DocStream> DocStream::Make(
    DeploymentRouter& router, std::string_view endpoint, grpc::ByteBuffer request,
    std::optional<std::chrono::system_clock::time_point> deadline, Callbacks callbacks) {
  ReplicaSet& set = router.NextShard();
  SendOptions options = router.OptionsFor(set, deadline, rpc::kStreamDoc, endpoint);
  std::shared_ptr<DocStream> stream(
      new DocStream(set, std::move(request), std::move(options), std::move(callbacks)));
  return stream;
}

void DocStream::Begin() {
  {
    absl::MutexLock lock(&mu_);
    self_ = shared_from_this();
  }
  StartAttempt();
}

void DocStream::StartAttempt() {
  Attempt* attempt = nullptr;
  grpc::Status failure;
  {
    absl::MutexLock lock(&mu_);
    std::optional<ReplicaSet::Lease> lease;
    if (!cancelled_ && attempts_ < options_.attempts)
      lease = set_.Acquire(tried_, options_.endpoint);
    if (lease.has_value()) {
      ++attempts_;
      if (lease->index < 64) tried_ |= uint64_t{1} << lease->index;
      attempt = attempt_ = new Attempt(this, std::move(*lease));
    } else {
      failure = cancelled_ ? grpc::Status::CANCELLED
                           : grpc::Status(
                                 grpc::StatusCode::UNAVAILABLE,
                                 absl::StrCat("no replica of ", set_.name(),
                                              " could take the stream (", attempts_, " attempts)"));
    }
  }
  if (attempt != nullptr) {
    attempt->Start(request_, options_.deadline, options_.timeout);
    return;
  }
  callbacks_.on_done(failure);
  std::shared_ptr<DocStream> self;
  absl::MutexLock lock(&mu_);
  self = std::move(self_);  // destroyed after the lock is released
}

void DocStream::Received(Attempt* attempt, grpc::ByteBuffer message) {
  {
    absl::MutexLock lock(&mu_);
    received_ = true;
    delivering_ = true;
  }
  // No read is pending while it runs: the next message cannot overtake this one.
  callbacks_.on_message(std::move(message));
  bool read = false;
  {
    absl::MutexLock lock(&mu_);
    delivering_ = false;
    // A Next() that came meanwhile, or a Cancel() (a read sees the end of the call), reads on.
    read = next_asked_ || cancelled_;
    next_asked_ = false;
    paused_ = !read;
  }
  if (read) attempt->Read();  // alive: this is its read's completion
}

void DocStream::Next() {
  Attempt* attempt = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (delivering_) {
      next_asked_ = true;
      return;
    }
    if (!paused_ || attempt_ == nullptr) return;
    paused_ = false;
    attempt = attempt_;  // alive: it holds itself open until a read fails, and none is pending
  }
  attempt->Read();
}

void DocStream::Cancel() {
  std::shared_ptr<grpc::ClientContext> context;
  Attempt* resume = nullptr;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (attempt_ == nullptr) return;
    context = attempt_->context();
    if (paused_) {  // no read pending: one is needed to see the end of the call
      paused_ = false;
      resume = attempt_;
    }
  }
  context->TryCancel();
  if (resume != nullptr) resume->Read();
}

void DocStream::AttemptDone(Attempt* attempt, grpc::Status status) {
  bool retry;
  {
    absl::MutexLock lock(&mu_);
    attempt_ = nullptr;
    paused_ = false;
    retry = status.error_code() == grpc::StatusCode::UNAVAILABLE && !received_ && !cancelled_ &&
            attempts_ < options_.attempts;
  }
  set_.Release(attempt->lease(), status);
  if (retry) {
    StartAttempt();
    return;
  }
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    status = grpc::Status(status.error_code(), absl::StrCat(attempt->lease().endpoint->label, ": ",
                                                            status.error_message()));
  }
  callbacks_.on_done(status);
  std::shared_ptr<DocStream> self;
  absl::MutexLock lock(&mu_);
  self = std::move(self_);  // destroyed after the lock is released
}

}  // namespace shoal::routing
