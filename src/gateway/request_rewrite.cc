// Field-level rewriting over the wire format: other fields are copied as raw bytes.
#include "src/gateway/request_rewrite.h"

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "src/gateway/request_head.h"

namespace shoal::gateway {
namespace {

using google::protobuf::internal::WireFormatLite;

std::string Flatten(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  if (!buffer.DumpToSingleSlice(&slice).ok()) return "";
  return std::string(reinterpret_cast<const char*>(slice.begin()), slice.size());
}

grpc::ByteBuffer FromString(std::string bytes) {
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

void AppendLengthDelimited(std::string& out, int field, std::string_view bytes) {
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.WriteTag(WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  coded.WriteVarint32(static_cast<uint32_t>(bytes.size()));
  coded.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
}

// Calls `field(number, raw bytes of the whole field)` for each top-level field of `bytes`.
template <typename F>
Status ForEachField(const std::string& bytes, F field) {
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  while (true) {
    int start = input.CurrentPosition();
    uint32_t tag = input.ReadTag();
    if (tag == 0) break;
    if (!WireFormatLite::SkipField(&input, tag)) {
      return absl::InvalidArgumentError("the request is not a jina.DataRequestProto");
    }
    field(WireFormatLite::GetTagFieldNumber(tag),
          std::string_view(bytes.data() + start, input.CurrentPosition() - start));
  }
  if (!input.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError("the request is not a jina.DataRequestProto");
  }
  return absl::OkStatus();
}

}  // namespace

google::protobuf::Struct NodeParameters(const google::protobuf::Struct& original,
                                        std::string_view node,
                                        const google::protobuf::Struct& current) {
  google::protobuf::Struct out;
  std::string prefix = std::string(node) + "__";
  for (const auto& [key, value] : original.fields()) {
    if (!IsSpecificKey(key)) {
      (*out.mutable_fields())[key] = value;
    } else if (key.rfind(prefix, 0) == 0) {
      (*out.mutable_fields())[key.substr(prefix.size())] = value;
    }
  }
  auto results = current.fields().find("__results__");
  if (results != current.fields().end()) (*out.mutable_fields())["__results__"] = results->second;
  return out;
}

StatusOr<grpc::ByteBuffer> WithParameters(const grpc::ByteBuffer& request,
                                          const google::protobuf::Struct& parameters) {
  std::string bytes = Flatten(request);
  std::string out;
  out.reserve(bytes.size() + 64);
  SHOAL_RETURN_IF_ERROR(ForEachField(bytes, [&](int number, std::string_view raw) {
    if (number != 2) out.append(raw);
  }));
  AppendLengthDelimited(out, 2, parameters.SerializeAsString());
  return FromString(std::move(out));
}

StatusOr<google::protobuf::Struct> ReadParameters(const grpc::ByteBuffer& request) {
  std::string bytes = Flatten(request);
  google::protobuf::Struct parameters;
  bool parsed = true;
  SHOAL_RETURN_IF_ERROR(ForEachField(bytes, [&](int number, std::string_view raw) {
    if (number != 2) return;
    google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(raw.data()),
                                                 static_cast<int>(raw.size()));
    uint32_t length = 0;
    input.ReadTag();
    parsed = parsed && input.ReadVarint32(&length) && parameters.MergeFromCodedStream(&input);
  }));
  if (!parsed) return absl::InvalidArgumentError("the request's parameters are not a Struct");
  return parameters;
}

grpc::ByteBuffer PackParts(const std::vector<const grpc::ByteBuffer*>& parts) {
  std::string out;
  for (const grpc::ByteBuffer* part : parts) AppendLengthDelimited(out, 1, Flatten(*part));
  return FromString(std::move(out));
}

}  // namespace shoal::gateway
