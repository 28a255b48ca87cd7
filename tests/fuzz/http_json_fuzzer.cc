// libFuzzer target: arbitrary bytes as the body of `POST /<endpoint>` on the HTTP front end,
// converted to a DataRequestProto under small limits, serialized, parsed back and written as
// the JSON answer. None of it may crash; an accepted body must always have a JSON answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "google/protobuf/stubs/logging.h"
#include "jina.pb.h"
#include "src/gateway/http_json.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  // The first byte picks `POST /post` or `POST /<endpoint>`.
  std::string_view endpoint = size > 0 && (data[0] & 1) ? "/fuzz" : "";
  const shoal::gateway::JsonLimits limits = {.max_docs = 64, .max_memory_bytes = 1 << 20};
  shoal::StatusOr<jina::DataRequestProto> request =
      shoal::gateway::DataRequestFromJson(body, endpoint, limits);
  if (!request.ok()) return 0;
  std::string bytes = request->SerializeAsString();
  jina::DataRequestProto back;
  if (!back.ParseFromString(bytes)) std::abort();  // what the gateway sends must parse
  shoal::StatusOr<std::string> answer = shoal::gateway::DataRequestToJson(back);
  if (!answer.ok()) std::abort();  // every doc a body can make has a JSON form
  shoal::gateway::DataRequestFromJson(*answer, "", limits).IgnoreError();
  return 0;
}
