// Streaming endpoints over HTTP as Jina's HTTP gateway serves them: server-sent events, one
// `update` event per document, `error` for an Executor error, `end` last; GET with the
// document's fields as query parameters, or POST with Accept: text/event-stream.
#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/http_stack.h"

namespace shoal::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Event {
  std::string name;
  nlohmann::json data;
};

// The events of an SSE body ("event: x\ndata: {...}\n\n" each).
std::vector<Event> Events(const std::string& body) {
  std::vector<Event> events;
  size_t at = 0;
  while ((at = body.find("event: ", at)) != std::string::npos) {
    const size_t name_end = body.find('\n', at);
    Event event{body.substr(at + 7, name_end - at - 7), nullptr};
    const size_t data = body.find("data: ", name_end);
    const size_t data_end = body.find("\n\n", data);
    event.data = nlohmann::json::parse(body.substr(data + 6, data_end - data - 6), nullptr, false);
    events.push_back(std::move(event));
    at = data_end;
  }
  return events;
}

std::unique_ptr<testing::HttpStack> StartStreaming() {
  auto stack = testing::StartHttpStack("Stream", {});
  if (stack != nullptr) stack->gateway->Discover(std::chrono::seconds(5));
  return stack;
}

TEST(HttpSseTest, GetAnswersEachDocAsAnUpdateEventThenEnd) {
  auto stack = StartStreaming();
  ASSERT_NE(stack, nullptr);
  testing::Reply reply =
      testing::Curl("GET", stack->Url("/generate?id=q&text=hello%20there"), "", "-N -i");
  EXPECT_THAT(reply.body, HasSubstr("Content-Type: text/event-stream"));
  std::vector<Event> events = Events(reply.body);
  ASSERT_EQ(events.size(), 4u) << reply.body;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].name, "update");
    EXPECT_EQ(events[i].data["id"], "q-" + std::to_string(i));
    EXPECT_EQ(events[i].data["text"], "hello there " + std::to_string(i));
  }
  EXPECT_EQ(events[3].name, "end");
}

TEST(HttpSseTest, PostWithAcceptEventStreamTakesParametersAndReportsAnError) {
  auto stack = StartStreaming();
  ASSERT_NE(stack, nullptr);
  testing::Reply reply =
      testing::Curl("POST", stack->Url("/generate"),
                    R"({"data": [{"text": "x"}], "parameters": {"n": 4, "fail_after": 2}})",
                    "-N -H 'Accept: text/event-stream'");
  std::vector<Event> events = Events(reply.body);
  std::vector<std::string> names;
  for (const Event& e : events) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("update", "update", "error", "end")) << reply.body;
  EXPECT_THAT(events[2].data.dump(), HasSubstr("failed on purpose after 2 documents"));

  // A document as the body itself (Jina's GET body form).
  reply = testing::Curl("POST", stack->Url("/generate"), R"({"text": "y"})",
                        "-N -H 'Accept: text/event-stream'");
  events = Events(reply.body);
  ASSERT_EQ(events.size(), 4u) << reply.body;
  EXPECT_EQ(events[0].data["text"], "y 0");
}

TEST(HttpSseTest, ABadBodyIsA400NamingTheProblem) {
  auto stack = StartStreaming();
  ASSERT_NE(stack, nullptr);
  testing::Reply reply =
      testing::Curl("POST", stack->Url("/generate"), "{not json", "-H 'Accept: text/event-stream'");
  EXPECT_EQ(reply.code, 400) << reply.body;
  EXPECT_THAT(reply.body, HasSubstr("invalid JSON"));
}

}  // namespace
}  // namespace shoal::gateway
