// Packing and unpacking shoal.v1.DataRequestBatch messages (proto/shoal/v1/batch.proto) as
// gRPC byte buffers, without copying the messages they carry: a packed batch refers to the
// messages' slices, and an unpacked message to slices of the batch.
#ifndef SHOAL_RPC_BATCH_FRAMES_H_
#define SHOAL_RPC_BATCH_FRAMES_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <deque>
#include <vector>

#include "shoal/status.h"

namespace shoal::rpc {

// The gRPC method of a stream of batches.
inline constexpr char kDataBatchCall[] = "/shoal.v1.DataBatchRPC/Call";

// What one stream message packs at most: the messages waiting to be written go out together
// up to these bounds (a single larger message still goes, alone). 64: what a replica's stream
// holds in flight, so that a batch never brings it far past that.
inline constexpr size_t kMaxBatchMessages = 64;
inline constexpr size_t kMaxBatchBytes = 1 << 20;
// A batch adds 2 to 6 bytes of framing around each message: a message within as much of a
// replica's max_receive_message_bytes makes the stream fail RESOURCE_EXHAUSTED, and the gateway
// then sends its unanswered messages again as unary calls, which pass (routing/sender.cc).

// Takes from the front of `queue` the messages one batch carries (kMaxBatchMessages,
// kMaxBatchBytes; at least one when `queue` has any).
std::vector<grpc::ByteBuffer> TakeBatch(std::deque<grpc::ByteBuffer>& queue);

// One DataRequestBatch carrying `messages`, in order (consumed: their slices move over).
// grpc::ByteBuffer has no move constructor (a "move" copies it): callers move buffers in and
// out with ByteBuffer::Swap.
grpc::ByteBuffer PackBatch(std::vector<grpc::ByteBuffer>& messages);

// The messages of a DataRequestBatch, in order. INVALID_ARGUMENT when it is not one (a field
// other than `messages`, a length past the end) or carries more than `max_messages`.
StatusOr<std::vector<grpc::ByteBuffer>> UnpackBatch(const grpc::ByteBuffer& batch,
                                                    size_t max_messages);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_BATCH_FRAMES_H_
