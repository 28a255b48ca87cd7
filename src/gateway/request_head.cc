// ReadRequestHead walks the top-level fields of the buffer and parses field 1 (the header) only.
#include "src/gateway/request_head.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "jina.pb.h"

namespace shoal::gateway {

using google::protobuf::internal::WireFormatLite;

StatusOr<RequestHead> ReadRequestHead(const grpc::ByteBuffer& request) {
  grpc::ByteBuffer copy(request);  // the reader consumes; copying only adds slice references
  grpc::ProtoBufferReader reader(&copy);
  google::protobuf::io::CodedInputStream input(&reader);
  input.SetTotalBytesLimit(INT32_MAX);
  RequestHead head;
  while (true) {
    uint32_t tag = input.ReadTag();
    if (tag == 0) break;
    if (WireFormatLite::GetTagFieldNumber(tag) == 1 &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      jina::HeaderProto header;
      uint32_t length = 0;
      if (!input.ReadVarint32(&length)) {
        return absl::InvalidArgumentError("the request is not a jina.DataRequestProto");
      }
      auto limit = input.PushLimit(static_cast<int>(length));
      if (!header.ParseFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
        return absl::InvalidArgumentError("the request's header is not a jina.HeaderProto");
      }
      input.PopLimit(limit);
      head.request_id = header.request_id();
      head.endpoint = header.exec_endpoint();
      head.target_executor = header.target_executor();
      continue;
    }
    if (WireFormatLite::GetTagFieldNumber(tag) == 2 &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      auto parameters = std::make_shared<google::protobuf::Struct>();
      uint32_t length = 0;
      if (!input.ReadVarint32(&length)) {
        return absl::InvalidArgumentError("the request is not a jina.DataRequestProto");
      }
      auto limit = input.PushLimit(static_cast<int>(length));
      if (!parameters->ParseFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
        return absl::InvalidArgumentError("the request's parameters are not a Struct");
      }
      input.PopLimit(limit);
      for (const auto& [key, value] : parameters->fields()) {
        if (IsSpecificKey(key)) {
          head.specific_parameters = std::move(parameters);
          break;
        }
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&input, tag)) {
      return absl::InvalidArgumentError("the request is not a jina.DataRequestProto");
    }
  }
  if (!input.ConsumedEntireMessage()) {  // a zero tag before the end: not a message
    return absl::InvalidArgumentError("the request is not a jina.DataRequestProto");
  }
  return head;
}

bool IsSpecificKey(std::string_view key) {
  if (key.size() >= 2 && (key.substr(0, 2) == "__" || key.substr(key.size() - 2) == "__")) {
    return false;
  }
  size_t separator = key.find("__");
  return separator != std::string_view::npos && separator > 0 && separator + 2 < key.size();
}

grpc::ByteBuffer ErrorResponse(const RequestHead& head, std::string_view message) {
  jina::DataRequestProto response;
  response.mutable_header()->set_request_id(head.request_id);
  if (!head.endpoint.empty()) response.mutable_header()->set_exec_endpoint(head.endpoint);
  jina::StatusProto* status = response.mutable_header()->mutable_status();
  status->set_code(jina::StatusProto::ERROR);
  status->set_description(std::string(message));
  status->mutable_exception()->set_name("InternalNetworkError");
  status->mutable_exception()->add_args(std::string(message));
  std::string bytes = response.SerializeAsString();
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace shoal::gateway
