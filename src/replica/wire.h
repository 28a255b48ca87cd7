// Jina requests as they come off the wire at a replica: counting their documents before they
// are parsed (so that a request of a million empty docs is refused before it grows an arena),
// parsing them into an arena with an error that names the RPC, and serializing answers.
#ifndef SHOAL_REPLICA_WIRE_H_
#define SHOAL_REPLICA_WIRE_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "google/protobuf/message.h"
#include "shoal/status.h"

namespace shoal::replica {

// Documents in a serialized jina.DataRequestProto (`parts` false) or jina.DataRequestListProto
// (`parts` true), counted from the wire without parsing them: docs and docs_bytes alike. An
// upper bound when a field repeats. Bytes that are not such a message count what was read.
int64_t CountDocs(const grpc::ByteBuffer& buffer, bool parts);

// RESOURCE_EXHAUSTED naming the limit and the flag/key that raises it when `buffer` holds more
// than `max_docs` documents (0: no limit).
Status CheckDocsLimit(const grpc::ByteBuffer& buffer, bool parts, int64_t max_docs,
                      std::string_view rpc);

// Parses `buffer` into `message`; INVALID_ARGUMENT naming the RPC and the expected message type
// when the bytes are not one.
Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message& message,
                    std::string_view rpc);

// Serializes an answer for a raw (ByteBuffer) method.
Status SerializeAnswer(const google::protobuf::Message& message, grpc::ByteBuffer& out);

// The bytes of `buffer` in one string (a write goes into the Raft log as the bytes it arrived as).
std::string BufferBytes(const grpc::ByteBuffer& buffer);

// A ByteBuffer that takes `bytes` over without copying them (a replicated write's answer).
grpc::ByteBuffer BufferOf(std::string bytes);

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_WIRE_H_
