#include "src/rpc/single_doc.h"

#include <utility>

#include "google/protobuf/io/coded_stream.h"

namespace shoal::rpc {
namespace {

constexpr uint32_t kDocumentTag = (4 << 3) | 2;  // field 4, length-delimited

template <typename Proto>
std::string HeadOf(const Proto& request) {
  jina::SingleDocumentRequestProto head;
  *head.mutable_header() = request.header();
  *head.mutable_parameters() = request.parameters();
  *head.mutable_routes() = request.routes();
  return head.SerializeAsString();
}

grpc::ByteBuffer Buffer(std::string bytes) {
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

jina::DataRequestProto ToDataRequest(jina::SingleDocumentRequestProto& single) {
  jina::DataRequestProto request;
  request.mutable_header()->Swap(single.mutable_header());
  request.mutable_parameters()->Swap(single.mutable_parameters());
  request.mutable_routes()->Swap(single.mutable_routes());
  docarray::DocListProto* docs = request.mutable_data()->mutable_docs();
  if (single.has_document()) docs->add_docs()->Swap(single.mutable_document());
  single.Clear();
  return request;
}

std::string MessageHead(const jina::SingleDocumentRequestProto& request) { return HeadOf(request); }

std::string MessageHead(const jina::DataRequestProto& request) { return HeadOf(request); }

grpc::ByteBuffer DocMessage(const std::string& head, const docarray::DocProto& doc) {
  const size_t size = doc.ByteSizeLong();
  std::string bytes = head;
  bytes.reserve(head.size() + 1 + 10 + size);
  uint8_t prefix[1 + 10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteTagToArray(kDocumentTag, prefix);
  end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(size, end);
  bytes.append(reinterpret_cast<const char*>(prefix), static_cast<size_t>(end - prefix));
  const size_t at = bytes.size();
  bytes.resize(at + size);
  doc.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(bytes.data() + at));
  return Buffer(std::move(bytes));
}

grpc::ByteBuffer HeadMessage(const std::string& head) { return Buffer(head); }

}  // namespace shoal::rpc
