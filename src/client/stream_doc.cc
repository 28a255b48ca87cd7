// Client::StreamDoc: one stream_doc call read on the calling thread; the callback may stop it.
#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "src/client/transport.h"
#include "src/common/ids.h"

namespace shoal::client {

Status StreamDoc(jina::JinaSingleDocumentRequestRPC::Stub& stub, std::string_view on,
                 const Doc& input, const StreamDocCallback& on_doc, const StreamDocOptions& options,
                 const std::string& where) {
  jina::SingleDocumentRequestProto request;
  request.mutable_header()->set_request_id(options.request_id.empty() ? RandomHexId()
                                                                      : options.request_id);
  request.mutable_header()->set_exec_endpoint(std::string(on));
  *request.mutable_parameters() = options.parameters.proto();
  (*request.mutable_parameters()->mutable_fields())["__results__"].mutable_struct_value();
  *request.mutable_document() = input.proto();
  grpc::ClientContext context;
  if (options.timeout.count() > 0) {
    context.set_deadline(std::chrono::system_clock::now() + options.timeout);
  }
  std::unique_ptr<grpc::ClientReader<jina::SingleDocumentRequestProto>> reader =
      stub.stream_doc(&context, request);
  jina::SingleDocumentRequestProto message;
  Status failed;
  bool stopped = false;
  while (reader->Read(&message)) {
    const jina::StatusProto& status = message.header().status();
    if (status.code() == jina::StatusProto::ERROR) {
      failed = absl::UnknownError(absl::StrCat(
          where, ": the Executor failed: ", status.exception().name(), ": ", status.description()));
      break;
    }
    if (!on_doc(Doc(message.mutable_document()))) {
      stopped = true;
      break;
    }
  }
  if (stopped || !failed.ok()) {
    context.TryCancel();
    while (reader->Read(&message)) {
    }
  }
  grpc::Status status = reader->Finish();
  if (!failed.ok()) return failed;
  if (stopped) return absl::OkStatus();
  if (!status.ok()) {
    return Status(static_cast<absl::StatusCode>(status.error_code()),
                  absl::StrCat(where, ": ", ServerMessage(status)));
  }
  return absl::OkStatus();
}

}  // namespace shoal::client
