#include "tests/integration/stream_support.h"

#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/doc.h"

namespace shoal::testing {

std::unique_ptr<ChildProcess> StartExecutor(std::vector<std::string> args) {
  std::vector<std::string> argv = {ShoalBinary(), "executor", "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = ChildProcess::Start(argv);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(child).value() : nullptr;
}

jina::SingleDocumentRequestProto StreamRequest(const std::string& endpoint, const std::string& id,
                                               const std::string& text,
                                               const std::string& parameters_json) {
  jina::SingleDocumentRequestProto request;
  request.mutable_header()->set_request_id("stream-req");
  request.mutable_header()->set_exec_endpoint(endpoint);
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(parameters_json, request.mutable_parameters())
          .ok());
  Doc doc(request.mutable_document());
  doc.set_id(id);
  doc.set_text(text);
  return request;
}

StreamResult StreamDoc(const std::string& address, const jina::SingleDocumentRequestProto& request,
                       std::optional<size_t> cancel_after, absl::Duration stall,
                       std::chrono::seconds deadline) {
  auto stub = jina::JinaSingleDocumentRequestRPC::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  std::unique_ptr<grpc::ClientReader<jina::SingleDocumentRequestProto>> reader =
      stub->stream_doc(&context, request);
  StreamResult result;
  jina::SingleDocumentRequestProto message;
  while (!(cancel_after.has_value() && result.messages.size() >= *cancel_after) &&
         reader->Read(&message)) {
    result.messages.push_back(message);
  }
  if (cancel_after.has_value()) {
    absl::SleepFor(stall);
    context.TryCancel();
    while (reader->Read(&message)) {
    }
  }
  result.status = reader->Finish();
  return result;
}

bool HealthServing(const std::string& address, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

}  // namespace shoal::testing
