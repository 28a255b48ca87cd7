// Helpers for tests of stream_doc: starting a replica, a request, and a client that reads the
// stream's messages (and may cancel it, or stall before reading).
#ifndef SHOAL_TESTS_INTEGRATION_STREAM_SUPPORT_H_
#define SHOAL_TESTS_INTEGRATION_STREAM_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "jina.pb.h"
#include "tests/integration/child_process.h"

namespace shoal::testing {

// `shoal executor --host 127.0.0.1 --port 0 <args>`, ready; null (with a test failure) else.
std::unique_ptr<ChildProcess> StartExecutor(std::vector<std::string> args);

// A stream_doc request: request id "stream-req", one doc with `id` and `text`, parameters
// from JSON.
jina::SingleDocumentRequestProto StreamRequest(const std::string& endpoint, const std::string& id,
                                               const std::string& text,
                                               const std::string& parameters_json = "{}");

struct StreamResult {
  grpc::Status status;
  std::vector<jina::SingleDocumentRequestProto> messages;
};
// Calls stream_doc and reads every message. With `cancel_after`, cancels once it read that
// many (after waiting `stall`, without reading).
StreamResult StreamDoc(const std::string& address, const jina::SingleDocumentRequestProto& request,
                       std::optional<size_t> cancel_after = std::nullopt,
                       absl::Duration stall = absl::ZeroDuration(),
                       std::chrono::seconds deadline = std::chrono::seconds(30));

// Whether grpc.health.v1 answers SERVING for `service` within 5 s.
bool HealthServing(const std::string& address, const std::string& service);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_STREAM_SUPPORT_H_
