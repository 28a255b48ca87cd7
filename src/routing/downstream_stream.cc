// DownstreamStream: the write queue, answers matched by request id, expiry and the end.
#include "src/routing/downstream_stream.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <algorithm>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "jina.pb.h"
#include "src/common/log.h"
#include "src/rpc/batch_frames.h"
#include "src/rpc/leader.h"

namespace shoal::routing {
namespace {

using google::protobuf::internal::WireFormatLite;

// The header (field 1) of a serialized DataRequestProto, without parsing the rest.
std::optional<jina::HeaderProto> ReadHeader(const grpc::ByteBuffer& message) {
  grpc::ByteBuffer copy(message);  // the reader consumes; copying only adds slice references
  grpc::ProtoBufferReader reader(&copy);
  google::protobuf::io::CodedInputStream input(&reader);
  input.SetTotalBytesLimit(INT32_MAX);
  while (true) {
    uint32_t tag = input.ReadTag();
    if (tag == 0) return std::nullopt;
    if (WireFormatLite::GetTagFieldNumber(tag) == 1 &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!input.ReadVarint32(&length)) return std::nullopt;
      auto limit = input.PushLimit(static_cast<int>(length));
      jina::HeaderProto header;
      if (!header.ParseFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
        return std::nullopt;
      }
      input.PopLimit(limit);
      return header;
    }
    if (!WireFormatLite::SkipField(&input, tag)) return std::nullopt;
  }
}

}  // namespace

DownstreamStream::DownstreamStream(std::shared_ptr<Endpoint> endpoint)
    : endpoint_(std::move(endpoint)) {}

DownstreamStream::~DownstreamStream() = default;

std::shared_ptr<DownstreamStream> DownstreamStream::Open(
    std::shared_ptr<Endpoint> endpoint,
    const std::vector<std::pair<std::string, std::string>>& metadata,
    std::optional<TimePoint> deadline) {
  auto stream = std::make_shared<DownstreamStream>(std::move(endpoint));
  stream->Start(metadata, deadline);
  return stream;
}

void DownstreamStream::Start(const std::vector<std::pair<std::string, std::string>>& metadata,
                             std::optional<TimePoint> deadline) {
  for (const auto& [key, value] : metadata) context_.AddMetadata(key, value);
  if (deadline.has_value()) context_.set_deadline(*deadline);
  {
    absl::MutexLock lock(&mu_);
    self_ = shared_from_this();
  }
  static const std::string* const call = new std::string(kCall);
  static const std::string* const batch_call = new std::string(rpc::kDataBatchCall);
  endpoint_->stub->PrepareBidiStreamingCall(
      &context_, endpoint_->address.batch_streams ? *batch_call : *call, grpc::StubOptions(), this);
  AddHold();  // the write side: released once no more writes can start (NextWriteLocked)
  StartRead(&reading_);
  StartCall();
}

bool DownstreamStream::Send(grpc::ByteBuffer request, std::optional<TimePoint> expiry, Done done) {
  std::optional<jina::HeaderProto> header = ReadHeader(request);
  std::string request_id = header.has_value() ? header->request_id() : "";
  Action next;
  {
    absl::MutexLock lock(&mu_);
    if (!OpenLocked()) return false;
    const uint64_t sequence = next_sequence_++;
    waiting_.emplace(sequence, Waiting{std::move(done), request_id});
    ++live_;
    by_id_[request_id].push_back(sequence);
    if (expiry.has_value()) {
      expiries_.emplace_back(*expiry, sequence);
      ArmLocked();
    }
    writes_.push_back(std::move(request));
    next = NextWriteLocked();
  }
  Proceed(next);
  return true;
}

void DownstreamStream::Close() {
  Action next;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    next = NextWriteLocked();
  }
  Proceed(next);
}

bool DownstreamStream::open() const {
  absl::MutexLock lock(&mu_);
  return OpenLocked();
}

size_t DownstreamStream::waiting() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

bool DownstreamStream::OpenLocked() const {
  return !ended_ && !stale_ && !closing_ && !write_ended_;
}

DownstreamStream::Action DownstreamStream::NextWriteLocked() {
  if (writing_ || write_ended_) return {};
  if (ended_) {  // the call is over: nothing more can be written
    writes_.clear();
    write_ended_ = true;
    return {.kind = Next::kRelease};
  }
  if (!writes_.empty()) {
    writing_ = true;
    if (endpoint_->address.batch_streams) {
      std::vector<grpc::ByteBuffer> batch = rpc::TakeBatch(writes_);
      grpc::ByteBuffer packed = rpc::PackBatch(batch);
      writes_.emplace_front();
      writes_.front().Swap(&packed);
    }
    return {.kind = Next::kWrite, .write = &writes_.front()};
  }
  if (closing_) {
    write_ended_ = true;
    return {.kind = Next::kWritesDone};
  }
  return {};
}

void DownstreamStream::Proceed(Action next) {
  switch (next.kind) {
    case Next::kNothing:
      return;
    case Next::kWrite:
      StartWrite(next.write);
      return;
    case Next::kWritesDone:
      StartWritesDone();
      RemoveHold();
      return;
    case Next::kRelease:
      RemoveHold();
      return;
  }
}

void DownstreamStream::OnWriteDone(bool ok) {
  Action next;
  {
    absl::MutexLock lock(&mu_);
    writes_.pop_front();
    writing_ = false;
    if (!ok) ended_ = true;  // the call failed: its status comes with OnDone
    next = NextWriteLocked();
  }
  Proceed(next);
}

void DownstreamStream::OnReadDone(bool ok) {
  if (!ok) {
    Action next;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      next = NextWriteLocked();
    }
    Proceed(next);
    return;
  }
  grpc::ByteBuffer read;
  read.Swap(&reading_);
  std::vector<grpc::ByteBuffer> answers;
  bool malformed = false;
  if (endpoint_->address.batch_streams) {
    StatusOr<std::vector<grpc::ByteBuffer>> unpacked =
        rpc::UnpackBatch(read, rpc::kMaxBatchMessages);
    if (unpacked.ok()) {
      answers = std::move(unpacked).value();
    } else {
      SHOAL_LOG_WARNING("%s: %s: the stream ends", endpoint_->label, unpacked.status().message());
      malformed = true;
    }
  } else {
    answers.emplace_back();
    answers.back().Swap(&read);
  }
  StartRead(&reading_);
  bool cancel = malformed;
  for (grpc::ByteBuffer& answer : answers) {
    if (!Deliver(answer)) {
      SHOAL_LOG_WARNING("%s: an answer on a Call stream to no request sent on it: the stream ends",
                        endpoint_->label);
      cancel = true;
      break;
    }
  }
  if (!cancel) {
    absl::MutexLock lock(&mu_);
    cancel = stale_ && live_ == 0;
  }
  if (cancel) Cancel();
}

bool DownstreamStream::Deliver(grpc::ByteBuffer& answer) {
  std::optional<jina::HeaderProto> header = ReadHeader(answer);
  Waiting taken;
  {
    absl::MutexLock lock(&mu_);
    if (!TakeLocked(header.has_value() ? header->request_id() : "", taken)) return false;
  }
  if (taken.done) {
    Answer result;
    result.response.Swap(&answer);
    result.is_error = header.has_value() && header->status().code() == jina::StatusProto::ERROR;
    taken.done(std::move(result));
  }
  return true;
}

bool DownstreamStream::TakeLocked(const std::string& request_id, Waiting& taken) {
  if (waiting_.empty()) return false;
  uint64_t sequence;
  auto it = by_id_.find(request_id);
  if (it != by_id_.end()) {
    sequence = it->second.front();
  } else {
    // An answer whose id was changed on the way: the oldest message's, as a replica that
    // answers in order would.
    sequence = waiting_.begin()->first;
    it = by_id_.find(waiting_.begin()->second.request_id);
  }
  std::deque<uint64_t>& same_id = it->second;
  same_id.erase(std::find(same_id.begin(), same_id.end(), sequence));
  if (same_id.empty()) by_id_.erase(it);
  auto entry = waiting_.find(sequence);
  taken = std::move(entry->second);
  waiting_.erase(entry);
  if (taken.done) --live_;
  // Expiries of answered messages go as soon as they reach the front (answers mostly come in
  // order), so that they do not pile up for a long timeout_send.
  while (!expiries_.empty() && waiting_.find(expiries_.front().second) == waiting_.end()) {
    expiries_.pop_front();
  }
  return true;
}

void DownstreamStream::ArmLocked() {
  if (armed_ || expiries_.empty() || done_) return;
  armed_ = true;
  alarm_ = std::make_unique<grpc::Alarm>();
  std::weak_ptr<DownstreamStream> weak = weak_from_this();
  alarm_->Set(expiries_.front().first, [weak](bool fired) {
    if (std::shared_ptr<DownstreamStream> self = weak.lock()) self->Expire(fired);
  });
}

void DownstreamStream::Expire(bool fired) {
  std::vector<Done> expired;
  bool cancel = false;
  {
    absl::MutexLock lock(&mu_);
    armed_ = false;
    if (!fired || done_) return;
    const TimePoint now = std::chrono::system_clock::now();
    while (!expiries_.empty() && expiries_.front().first <= now) {
      auto entry = waiting_.find(expiries_.front().second);
      expiries_.pop_front();
      if (entry == waiting_.end() || !entry->second.done) continue;
      expired.push_back(std::move(entry->second.done));
      entry->second.done = nullptr;  // stays, so that its late answer is recognised
      --live_;
      stale_ = true;
    }
    ArmLocked();
    cancel = stale_ && live_ == 0;
  }
  for (Done& done : expired) {
    Answer answer;
    answer.status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                 "no answer on the Call stream within timeout_send");
    done(std::move(answer));
  }
  if (cancel) Cancel();
}

void DownstreamStream::OnDone(const grpc::Status& status) {
  const bool not_leader = rpc::RefusedAsNotLeader(context_);
  std::vector<Done> orphans;
  std::shared_ptr<DownstreamStream> keep;  // the last reference may be this one
  std::unique_ptr<grpc::Alarm> alarm;      // cancelled outside `mu_`
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    ended_ = true;
    keep = std::move(self_);
    for (auto& [sequence, waiting] : waiting_) {
      if (waiting.done) orphans.push_back(std::move(waiting.done));
    }
    waiting_.clear();
    by_id_.clear();
    expiries_.clear();
    live_ = 0;
    alarm = std::move(alarm_);
  }
  alarm.reset();
  const grpc::Status ended = status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                        "the Call stream ended before answering")
                                         : status;
  for (Done& done : orphans) {
    Answer answer;
    answer.status = ended;
    answer.unanswered = true;
    answer.not_leader = not_leader;
    done(std::move(answer));
  }
}

}  // namespace shoal::routing
