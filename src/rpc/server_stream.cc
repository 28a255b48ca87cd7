// ServerStream: one write at a time, from a queue that producers fill under a lock; the reactor
// holds the stream until gRPC is done with the call, producers hold it for as long as they write.
#include "src/rpc/server_stream.h"

#include <string>
#include <utility>
#include <vector>

namespace shoal::rpc {

class ServerStream::Reactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Reactor(std::shared_ptr<ServerStream> stream) : stream_(std::move(stream)) {}
  void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
  void OnCancel() override { stream_->OnCancel(); }
  void OnDone() override {
    stream_->OnDone();
    delete this;
  }

 private:
  std::shared_ptr<ServerStream> stream_;  // co-owned with the producers
};

std::shared_ptr<ServerStream> ServerStream::Make(Options options) {
  std::shared_ptr<ServerStream> stream(new ServerStream(std::move(options)));
  absl::MutexLock lock(&stream->mu_);
  stream->reactor_ = new Reactor(stream);
  return stream;
}

ServerStream::~ServerStream() = default;

grpc::ServerWriteReactor<grpc::ByteBuffer>* ServerStream::reactor() {
  absl::MutexLock lock(&mu_);
  return reactor_;
}

bool ServerStream::Write(grpc::ByteBuffer message) { return Enqueue(std::move(message), true); }

bool ServerStream::TryWrite(grpc::ByteBuffer message) { return Enqueue(std::move(message), false); }

bool ServerStream::Enqueue(grpc::ByteBuffer message, bool wait) {
  bool queued = false;
  {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return cancelled_ || finish_asked_ || reactor_ == nullptr ||
             (queue_.size() + (write_started_ ? 1 : 0) < options_.max_queued &&
              queued_bytes_ < options_.max_queued_bytes);
    };
    if (wait && !mu_.AwaitWithTimeout(absl::Condition(&room), options_.max_write_wait)) {
      StallCancelLocked();
    }
    if (!cancelled_ && !finish_asked_ && reactor_ != nullptr) {
      queued_bytes_ += message.Length();
      queue_.push_back(std::move(message));
      queued = true;
    }
  }
  Pump();
  return queued;
}

void ServerStream::StallCancelLocked() {
  // The client read nothing for max_write_wait: its call ends. TryCancel may run OnCancel on
  // this thread, so it is called without the lock; `cancelling_` keeps Pump from finishing the
  // call (which would let gRPC free the context) until it returned.
  cancelled_ = true;
  if (options_.context == nullptr || reactor_ == nullptr || finished_) return;
  cancelling_ = true;
  mu_.Unlock();
  options_.context->TryCancel();
  mu_.Lock();
  cancelling_ = false;
}

void ServerStream::Finish(grpc::Status status,
                          std::vector<std::pair<std::string, std::string>> trailing) {
  {
    absl::MutexLock lock(&mu_);
    if (finish_asked_) return;
    finish_asked_ = true;
    status_ = std::move(status);
    trailing_ = std::move(trailing);
  }
  Pump();
}

bool ServerStream::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_ || reactor_ == nullptr;
}

size_t ServerStream::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size() + (write_started_ ? 1 : 0);
}

void ServerStream::Pump() {
  Reactor* reactor = nullptr;
  const grpc::ByteBuffer* write = nullptr;
  grpc::Status finish;
  {
    absl::MutexLock lock(&mu_);
    // gRPC may delete the reactor once it is finished and no write is in flight, so neither is
    // started while another one may still be.
    if (reactor_ == nullptr || finished_ || write_started_ || cancelling_) return;
    if (cancelled_) {
      finished_ = true;
      finish = grpc::Status::CANCELLED;
    } else if (!queue_.empty()) {
      writing_ = std::move(queue_.front());
      queue_.pop_front();
      write_started_ = true;
      write = &writing_;
    } else if (finish_asked_) {
      finished_ = true;
      finish = status_;
      // The call is alive until its Finish (below): its context takes the metadata now.
      if (options_.context != nullptr) {
        for (const auto& [key, value] : trailing_)
          options_.context->AddTrailingMetadata(key, value);
      }
    } else {
      return;
    }
    reactor = reactor_;
  }
  if (write != nullptr) {
    reactor->StartWrite(write);
  } else {
    reactor->Finish(finish);
  }
}

void ServerStream::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_started_ = false;
    queued_bytes_ -= writing_.Length();
    writing_.Clear();
    if (!ok) cancelled_ = true;
  }
  if (ok && options_.on_sent) options_.on_sent();
  Pump();
}

void ServerStream::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  if (options_.on_cancel) options_.on_cancel();
  Pump();
}

void ServerStream::OnDone() {
  absl::MutexLock lock(&mu_);
  reactor_ = nullptr;
  cancelled_ = true;
  queue_.clear();
  queued_bytes_ = 0;
}

}  // namespace shoal::rpc
