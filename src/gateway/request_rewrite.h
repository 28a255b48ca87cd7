// Byte-level edits of serialized DataRequestProtos for the gateway's graph: replacing the
// parameters for one node, and packing the parts of a no_reduce join into one
// DataRequestListProto, without parsing the documents.
#ifndef SHOAL_GATEWAY_REQUEST_REWRITE_H_
#define SHOAL_GATEWAY_REQUEST_REWRITE_H_

#include <grpcpp/support/byte_buffer.h>

#include <string_view>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "shoal/status.h"

namespace shoal::gateway {

// The parameters `node` sees (Jina's rule): every `node__key` becomes `key`, other nodes'
// specific keys are dropped, and `__results__` comes from `current` (what earlier nodes added).
google::protobuf::Struct NodeParameters(const google::protobuf::Struct& original,
                                        std::string_view node,
                                        const google::protobuf::Struct& current);

// `request` with field 2 (parameters) replaced by `parameters`.
StatusOr<grpc::ByteBuffer> WithParameters(const grpc::ByteBuffer& request,
                                          const google::protobuf::Struct& parameters);
// Field 2 of a serialized request (empty when absent).
StatusOr<google::protobuf::Struct> ReadParameters(const grpc::ByteBuffer& request);

// A serialized DataRequestListProto holding `parts` in order.
grpc::ByteBuffer PackParts(const std::vector<const grpc::ByteBuffer*>& parts);

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_REQUEST_REWRITE_H_
