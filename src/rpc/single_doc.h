// Jina's stream_doc messages (SingleDocumentRequestProto: a request's header, parameters and
// routes with one document) and their relation to DataRequestProto, whose first three fields
// are the same: a one-document request either way, and the stream's answers built cheaply as
// the same serialized head followed by each document.
#ifndef SHOAL_RPC_SINGLE_DOC_H_
#define SHOAL_RPC_SINGLE_DOC_H_

#include <grpcpp/support/byte_buffer.h>

#include <string>

#include "jina.pb.h"

namespace shoal::rpc {

inline constexpr char kStreamDoc[] = "/jina.JinaSingleDocumentRequestRPC/stream_doc";

// The DataRequestProto of one stream_doc request: the same header, parameters and routes, and
// the document (if any) as its only doc. `single` is left empty.
jina::DataRequestProto ToDataRequest(jina::SingleDocumentRequestProto& single);

// The serialized header, parameters and routes of `request` (a SingleDocumentRequestProto or a
// DataRequestProto), without documents: the head of every message DocMessage builds.
std::string MessageHead(const jina::SingleDocumentRequestProto& request);
std::string MessageHead(const jina::DataRequestProto& request);

// `head` followed by `doc`: a serialized SingleDocumentRequestProto.
grpc::ByteBuffer DocMessage(const std::string& head, const docarray::DocProto& doc);

// `head` alone, as serialized bytes (a stream's last message, carrying an error status).
grpc::ByteBuffer HeadMessage(const std::string& head);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_SINGLE_DOC_H_
