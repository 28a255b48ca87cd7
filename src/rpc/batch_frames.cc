// DataRequestBatch framing: field 1 (length-delimited) repeated, over gRPC slices.
#include "src/rpc/batch_frames.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace shoal::rpc {
namespace {

constexpr uint8_t kMessagesTag = (1 << 3) | 2;  // field 1, length-delimited

// Reads bytes across the slices of a buffer, and takes ranges of them as sub-slices.
class SliceCursor {
 public:
  explicit SliceCursor(const std::vector<grpc::Slice>& slices) : slices_(slices) { SkipEmpty(); }

  bool done() const { return slice_ == slices_.size(); }

  bool ReadByte(uint8_t& byte) {
    if (done()) return false;
    byte = slices_[slice_].begin()[offset_];
    Advance(1);
    return true;
  }

  // A varint of at most 32 bits.
  bool ReadVarint32(uint32_t& value) {
    value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      uint8_t byte = 0;
      if (!ReadByte(byte)) return false;
      value |= static_cast<uint32_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return shift < 28 || (byte >> 4) == 0;
    }
    return false;
  }

  // The next `length` bytes as slices of the buffer's own; false when fewer are left.
  bool Take(size_t length, std::vector<grpc::Slice>& out) {
    while (length > 0) {
      if (done()) return false;
      const size_t here = std::min(length, slices_[slice_].size() - offset_);
      out.push_back(slices_[slice_].sub(offset_, offset_ + here));
      Advance(here);
      length -= here;
    }
    return true;
  }

 private:
  void Advance(size_t n) {
    offset_ += n;
    if (offset_ == slices_[slice_].size()) {
      ++slice_;
      offset_ = 0;
      SkipEmpty();
    }
  }
  void SkipEmpty() {
    while (slice_ < slices_.size() && slices_[slice_].size() == 0) ++slice_;
  }

  const std::vector<grpc::Slice>& slices_;
  size_t slice_ = 0;
  size_t offset_ = 0;
};

// The message's bytes as slices: its own, or (a compressed buffer, which Dump refuses) a copy
// read through gRPC's reader, which decompresses.
std::vector<grpc::Slice> SlicesOf(grpc::ByteBuffer& message) {
  std::vector<grpc::Slice> parts;
  if (message.Length() == 0 || message.Dump(&parts).ok()) return parts;
  parts.clear();
  std::string bytes;
  grpc::ProtoBufferReader reader(&message);
  const void* data = nullptr;
  int size = 0;
  while (reader.Next(&data, &size)) bytes.append(static_cast<const char*>(data), size);
  parts.emplace_back(bytes);
  return parts;
}

}  // namespace

std::vector<grpc::ByteBuffer> TakeBatch(std::deque<grpc::ByteBuffer>& queue) {
  std::vector<grpc::ByteBuffer> batch;
  batch.reserve(std::min(queue.size(), kMaxBatchMessages));
  size_t bytes = 0;
  while (!queue.empty() && batch.size() < kMaxBatchMessages &&
         (batch.empty() || bytes + queue.front().Length() <= kMaxBatchBytes)) {
    bytes += queue.front().Length();
    batch.emplace_back();
    batch.back().Swap(&queue.front());
    queue.pop_front();
  }
  return batch;
}

grpc::ByteBuffer PackBatch(std::vector<grpc::ByteBuffer>& messages) {
  std::vector<grpc::Slice> slices;
  slices.reserve(messages.size() * 2);
  for (grpc::ByteBuffer& message : messages) {
    std::vector<grpc::Slice> parts = SlicesOf(message);
    size_t total = 0;
    for (const grpc::Slice& part : parts) total += part.size();
    uint8_t header[6];
    size_t used = 0;
    header[used++] = kMessagesTag;
    uint32_t length = static_cast<uint32_t>(total);
    do {
      uint8_t byte = length & 0x7f;
      length >>= 7;
      header[used++] = length != 0 ? (byte | 0x80) : byte;
    } while (length != 0);
    slices.emplace_back(header, used);
    for (grpc::Slice& part : parts) slices.push_back(std::move(part));
    message.Clear();
  }
  messages.clear();
  return grpc::ByteBuffer(slices.data(), slices.size());
}

StatusOr<std::vector<grpc::ByteBuffer>> UnpackBatch(const grpc::ByteBuffer& batch,
                                                    size_t max_messages) {
  std::vector<grpc::Slice> slices;
  if (batch.Length() > 0 && !batch.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("an unreadable DataRequestBatch");
  }
  SliceCursor cursor(slices);
  std::vector<grpc::ByteBuffer> messages;
  // Growing the vector would copy every buffer already in it (no move constructor).
  messages.reserve(std::min(max_messages, kMaxBatchMessages));
  while (!cursor.done()) {
    uint8_t tag = 0;
    uint32_t length = 0;
    if (!cursor.ReadByte(tag) || tag != kMessagesTag) {
      return absl::InvalidArgumentError(
          absl::StrCat("DataRequestBatch: message #", messages.size() + 1,
                       ": expected field 1 (messages), got tag ", tag));
    }
    if (messages.size() == max_messages) {
      return absl::InvalidArgumentError(
          absl::StrCat("DataRequestBatch: more than ", max_messages, " messages in one batch"));
    }
    std::vector<grpc::Slice> parts;
    if (!cursor.ReadVarint32(length) || !cursor.Take(length, parts)) {
      return absl::InvalidArgumentError(
          absl::StrCat("DataRequestBatch: message #", messages.size() + 1, " ends past the batch"));
    }
    messages.emplace_back(parts.data(), parts.size());
  }
  return messages;
}

}  // namespace shoal::rpc
