// The HTTP gateway's limits against hostile clients, end to end (a real replica process, curl):
// docs per request, and request bodies that are declared large and sent slowly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/http_stack.h"

namespace shoal::gateway {
namespace {

using testing::Curl;
using ::testing::HasSubstr;
using testing::Reply;

// A 3 MB body of a million empty docs drove the gateway past a gigabyte; it is refused while
// parsing, and the gateway keeps serving.
TEST(HttpLimitsTest, MillionEmptyDocsAreRefusedNamingTheLimit) {
  auto stack = testing::StartHttpStack("Echo", {.max_body_bytes = 8 << 20});
  ASSERT_NE(stack, nullptr);
  std::string body = R"({"data": [{})";
  body.reserve(3000020);
  for (int i = 1; i < 1000000; ++i) body += ",{}";
  body += "]}";
  Reply refused = Curl("POST", stack->Url("/index"), body);
  EXPECT_EQ(refused.code, 413) << refused.body.substr(0, 300);
  EXPECT_THAT(refused.body, HasSubstr("more than 10000 docs"));
  EXPECT_THAT(refused.body, HasSubstr("max_docs_per_request"));

  Reply served = Curl("POST", stack->Url("/index"), R"({"data": [{"text": "still here"}]})");
  EXPECT_EQ(served.code, 200) << served.body;
  EXPECT_THAT(served.body, HasSubstr("still here"));
}

}  // namespace
}  // namespace shoal::gateway
