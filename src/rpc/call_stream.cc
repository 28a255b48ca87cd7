// The Call stream's read-ahead, flow control, write queue and single Finish.
#include "src/rpc/call_stream.h"

#include <utility>

#include "src/rpc/batch_frames.h"
#include "src/rpc/status.h"

namespace shoal::rpc {

CallStream::CallStream(grpc::CallbackServerContext* context, const Options& options)
    : context_(context), options_(options) {}

void CallStream::Start() { StartRead(&reading_); }

void CallStream::OnReadDone(bool ok) {
  if (!ok) {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      reads_done_ = true;
      finish = FinishIfDoneLocked();
    }
    if (finish.has_value()) Finish(*finish);  // else another thread may already have ended it
    return;
  }
  StatusOr<std::vector<grpc::ByteBuffer>> requests = Requests(reading_);
  const size_t count = requests.ok() ? requests->size() : 1;
  uint64_t first;
  bool read_more;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || !error_.ok() || write_failed_) return;  // the stream is ending
    first = received_ + 1;
    received_ += count;
    in_flight_ += static_cast<int>(count);  // keeps the stream alive until Complete
    read_more = requests.ok() && CanReadLocked();
    read_paused_ = !read_more;
  }
  if (read_more) StartRead(&reading_);
  if (!requests.ok()) {
    Complete(first, requests.status());  // ends the stream once the earlier answers are out
    return;
  }
  // An empty batch holds nothing in flight: reading goes on (or the stream ends) as it would.
  for (size_t i = 0; i < count; ++i) Handle(first + i, std::move((*requests)[i]));
}

StatusOr<std::vector<grpc::ByteBuffer>> CallStream::Requests(grpc::ByteBuffer& read) const {
  if (options_.batched) return UnpackBatch(read, kMaxBatchMessages);
  std::vector<grpc::ByteBuffer> one(1);
  one[0].Swap(&read);
  return one;
}

void CallStream::OnWriteDone(bool ok) {
  std::optional<grpc::Status> finish;
  bool resume_read = false;
  {
    absl::MutexLock lock(&mu_);
    held_bytes_ -= writes_.front().Length();
    writes_.pop_front();
    writing_answers_ = 1;
    if (!ok) {
      write_failed_ = true;  // the client is gone: drop what is queued
      writes_.clear();
      parked_.clear();
      held_bytes_ = 0;
    } else if (!writes_.empty()) {
      StartWriteLocked();
    }
    resume_read = ResumeReadLocked();
    finish = FinishIfDoneLocked();
  }
  // Only with something to do: otherwise another thread may already have finished the stream,
  // and gRPC deleted it, once `mu_` was released.
  if (finish.has_value() || resume_read) Proceed(std::move(finish), resume_read);
}

void CallStream::Complete(uint64_t sequence, StatusOr<grpc::ByteBuffer> answer) {
  bool resume_read = false;
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;
    const bool writing = !writes_.empty();
    if (!answer.ok()) {
      // A failed request ends the stream with its error once the earlier answers are out.
      if (error_.ok()) error_ = answer.status();
    } else if (!write_failed_) {
      held_bytes_ += answer->Length();
      if (options_.in_order) {
        parked_.emplace(sequence, std::move(answer).value());
      } else {
        writes_.push_back(std::move(answer).value());
      }
    }
    if (options_.in_order && !write_failed_) UnparkLocked();
    if (!writing && !writes_.empty()) StartWriteLocked();
    resume_read = ResumeReadLocked();
    finish = FinishIfDoneLocked();
  }
  // Only with something to do: otherwise another thread may already have finished the stream,
  // and gRPC deleted it, once `mu_` was released.
  if (finish.has_value() || resume_read) Proceed(std::move(finish), resume_read);
}

void CallStream::StartWriteLocked() {
  if (options_.batched) {
    std::vector<grpc::ByteBuffer> answers = TakeBatch(writes_);
    writing_answers_ = answers.size();
    for (const grpc::ByteBuffer& answer : answers) held_bytes_ -= answer.Length();
    grpc::ByteBuffer packed = PackBatch(answers);
    writes_.emplace_front();
    writes_.front().Swap(&packed);
    held_bytes_ += writes_.front().Length();
  }
  StartWrite(&writes_.front());
}

bool CallStream::CanReadLocked() const {
  // Batched, the answers being written count one each.
  const size_t held = static_cast<size_t>(in_flight_) + writes_.size() - (writes_.empty() ? 0 : 1) +
                      (writes_.empty() ? 0 : writing_answers_) + parked_.size();
  return held < options_.max_held && held_bytes_ < options_.max_held_bytes && error_.ok() &&
         !write_failed_;
}

bool CallStream::ResumeReadLocked() {
  if (!read_paused_ || reads_done_ || finished_ || !CanReadLocked()) return false;
  read_paused_ = false;
  starting_read_ = true;  // the stream may not finish before StartRead
  return true;
}

void CallStream::ResumeRead() {
  StartRead(&reading_);
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    starting_read_ = false;
    finish = FinishIfDoneLocked();
  }
  if (finish.has_value()) Finish(*finish);  // else another thread may already have ended it
}

void CallStream::UnparkLocked() {
  while (!parked_.empty()) {
    auto next = parked_.begin();
    // A sequence that failed never arrives: it is skipped once nothing is in flight.
    if (next->first != next_to_write_ && in_flight_ > 0) return;
    next_to_write_ = next->first + 1;
    writes_.push_back(std::move(next->second));
    parked_.erase(next);
  }
}

std::optional<grpc::Status> CallStream::FinishIfDoneLocked() {
  if (finished_ || starting_read_ || in_flight_ > 0 || !writes_.empty() || !parked_.empty()) {
    return std::nullopt;
  }
  if (!reads_done_ && error_.ok() && !write_failed_) return std::nullopt;
  finished_ = true;
  return ToGrpc(error_, *context_);
}

void CallStream::Proceed(std::optional<grpc::Status> finish, bool resume_read) {
  if (finish.has_value()) {
    Finish(*finish);  // the last touch: gRPC may delete the stream from here on
  } else if (resume_read) {
    ResumeRead();
  }
}

}  // namespace shoal::rpc
