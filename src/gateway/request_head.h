// Reads what routing needs of a serialized DataRequestProto (the header: endpoint, request id,
// target executor) straight from the gRPC buffer, without parsing the documents.
#ifndef SHOAL_GATEWAY_REQUEST_HEAD_H_
#define SHOAL_GATEWAY_REQUEST_HEAD_H_

#include <grpcpp/support/byte_buffer.h>

#include <memory>
#include <string>

#include "google/protobuf/struct.pb.h"
#include "shoal/status.h"

namespace shoal::gateway {

struct RequestHead {
  std::string request_id;
  std::string endpoint;         // header.exec_endpoint ("" when absent)
  std::string target_executor;  // header.target_executor ("" when absent)
  // The request's parameters, kept only when some key is Executor-specific (`name__key`), which
  // the gateway then resolves per node.
  std::shared_ptr<const google::protobuf::Struct> specific_parameters;
};

// Whether `key` is Executor-specific: `<name>__<key>` (a key starting or ending with `__` is
// not).
bool IsSpecificKey(std::string_view key);

// InvalidArgument when the bytes are not a DataRequestProto.
StatusOr<RequestHead> ReadRequestHead(const grpc::ByteBuffer& request);

// A DataRequestProto carrying only `head`'s header and an ERROR status saying `message`: how
// the gateway answers one request of a stream that could not be routed.
grpc::ByteBuffer ErrorResponse(const RequestHead& head, std::string_view message);

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_REQUEST_HEAD_H_
