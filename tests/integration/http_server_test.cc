// The HTTP gateway end to end: a real `shoal executor` process behind an in-process router,
// Gateway and HttpServer, driven by curl (a real outside HTTP client) over 127.0.0.1.
#include "src/gateway/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/http_stack.h"

namespace shoal::gateway {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

using testing::Curl;
using testing::HttpStack;
using testing::Reply;
using testing::RunCommand;
using testing::ShellQuote;

std::unique_ptr<HttpStack> StartStack(const std::string& uses,
                                      size_t max_total_body_bytes = size_t{1} << 30) {
  return testing::StartHttpStack(
      uses, {.max_body_bytes = 1 << 20, .max_total_body_bytes = max_total_body_bytes});
}

TEST(HttpServerTest, PostAndEndpointPathsAnswerTheDocs) {
  auto stack = StartStack("Echo");
  ASSERT_NE(stack, nullptr);
  for (const std::string path : {"/post", "/foo"}) {
    Json body = {
        {"data",
         {{{"id", "a"}, {"text", "hello"}, {"embedding", {1.5, -2}}}, {{"text", "second"}}}},
        {"parameters", {{"k", 1}}}};
    if (path == "/post") body["execEndpoint"] = "/bar";
    Reply reply = Curl("POST", stack->Url(path), body.dump());
    ASSERT_EQ(reply.code, 200) << path << " " << reply.body << stack->replica->Log();
    Json answer = reply.json();
    ASSERT_TRUE(answer.is_object()) << reply.body;
    EXPECT_EQ(answer["header"]["execEndpoint"], path == "/post" ? "/bar" : "/foo");
    EXPECT_FALSE(answer["header"].contains("status"));
    EXPECT_EQ(answer["header"]["requestId"].get<std::string>().size(), 32u);
    ASSERT_EQ(answer["data"].size(), 2u) << reply.body;
    EXPECT_EQ(answer["data"][0]["id"], "a");
    EXPECT_EQ(answer["data"][0]["text"], "hello");
    EXPECT_EQ(answer["data"][0]["embedding"], Json({1.5, -2.0}));
    EXPECT_EQ(answer["data"][0]["served_by"], "echo/rep-0");
    EXPECT_EQ(answer["data"][1]["text"], "second");
    EXPECT_EQ(answer["data"][1]["id"].get<std::string>().size(), 32u);
  }
}

// Bodies shaped as Jina's HTTP client sends docarray v2 docs: every field present, unset ones
// null (a TextDoc, and a QueryDoc with TextDoc matches).
TEST(HttpServerTest, DocarrayV2BodiesWithNullFields) {
  auto stack = StartStack("Echo");
  ASSERT_NE(stack, nullptr);
  const Json text_doc = {{"id", "t1"},
                         {"text", "hello"},
                         {"url", nullptr},
                         {"embedding", nullptr},
                         {"bytes_", nullptr}};
  const Json query_doc = {{"id", "q1"},
                          {"text", "query"},
                          {"url", nullptr},
                          {"embedding", {0.5, 1.5}},
                          {"tensor", nullptr},
                          {"score", nullptr},
                          {"flag", nullptr},
                          {"tags", Json::object()},
                          {"image", nullptr},
                          {"matches",
                           {{{"id", "m1"},
                             {"text", "match"},
                             {"url", nullptr},
                             {"embedding", nullptr},
                             {"bytes_", nullptr}}}}};
  const Json empty_matches = {{"id", "q2"},
                              {"text", nullptr},
                              {"embedding", nullptr},
                              {"matches", Json::array()},
                              {"tags", nullptr}};
  for (const std::string path : {"/post", "/search"}) {
    Json body = {{"data", {text_doc, query_doc, empty_matches}}, {"parameters", Json::object()}};
    if (path == "/post") {
      body["exec_endpoint"] = "/search";
      body["target_executor"] = nullptr;
      body["header"] = {{"request_id", "r"}, {"exec_endpoint", "/search"}};
      body["routes"] = Json::array();
    }
    Reply reply = Curl("POST", stack->Url(path), body.dump());
    ASSERT_EQ(reply.code, 200) << path << " " << reply.body << stack->replica->Log();
    Json answer = reply.json();
    ASSERT_EQ(answer["data"].size(), 3u) << reply.body;
    EXPECT_EQ(answer["header"]["execEndpoint"], "/search");
    EXPECT_EQ(answer["data"][0]["text"], "hello");
    EXPECT_FALSE(answer["data"][0].contains("embedding")) << reply.body;
    EXPECT_FALSE(answer["data"][0].contains("url")) << reply.body;
    EXPECT_EQ(answer["data"][1]["embedding"], Json({0.5, 1.5}));
    EXPECT_EQ(answer["data"][1]["matches"][0]["text"], "match") << reply.body;
    EXPECT_FALSE(answer["data"][1]["matches"][0].contains("bytes_")) << reply.body;
    EXPECT_EQ(answer["data"][2]["id"], "q2");
    EXPECT_FALSE(answer["data"][2].contains("text")) << reply.body;
  }
}

TEST(HttpServerTest, StatusDryRunHealthAndRouting) {
  auto stack = StartStack("Echo");
  ASSERT_NE(stack, nullptr);
  Reply status = Curl("GET", stack->Url("/status"));
  EXPECT_EQ(status.code, 200);
  EXPECT_EQ(status.json()["ready"], true) << status.body;
  EXPECT_TRUE(status.json()["version"].is_string()) << status.body;
  Reply dry_run = Curl("GET", stack->Url("/dry_run"));
  EXPECT_EQ(dry_run.code, 200);
  EXPECT_EQ(dry_run.json()["code"], 0) << dry_run.body;
  EXPECT_EQ(Curl("GET", stack->Url("/health")).code, 200);

  Reply unknown = Curl("GET", stack->Url("/nowhere"));
  EXPECT_EQ(unknown.code, 404);
  EXPECT_THAT(unknown.json()["detail"].get<std::string>(), HasSubstr("/nowhere"));
  EXPECT_EQ(Curl("POST", stack->Url("/status"), "{}").code, 405);
  EXPECT_EQ(Curl("DELETE", stack->Url("/post")).code, 405);

  Reply invalid = Curl("POST", stack->Url("/post"), "{\"data\": [");
  EXPECT_EQ(invalid.code, 400);
  EXPECT_THAT(invalid.json()["detail"].get<std::string>(), HasSubstr("invalid JSON"));
  Reply lookahead =
      Curl("POST", stack->Url("/post"), R"j({"data": [], "targetExecutor": "ec(?=ho)"})j");
  EXPECT_EQ(lookahead.code, 400);
  EXPECT_THAT(lookahead.json()["detail"].get<std::string>(),
              HasSubstr("target_executor 'ec(?=ho)'"));
  Reply shape =
      Curl("POST", stack->Url("/post"), R"({"data": [{"text": "a"}, {"embedding": ["x"]}]})");
  EXPECT_EQ(shape.code, 400);
  EXPECT_THAT(shape.json()["detail"].get<std::string>(),
              HasSubstr("data[1].embedding: expected numbers"));
}

TEST(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  auto stack = StartStack("Echo");
  ASSERT_NE(stack, nullptr);
  std::string out = RunCommand("curl -s -v --max-time 60 " + ShellQuote(stack->Url("/status")) +
                               " " + ShellQuote(stack->Url("/dry_run")) + " 2>&1");
  EXPECT_THAT(out, HasSubstr("Re-using existing connection"));
  EXPECT_THAT(out, HasSubstr("\"ready\":true"));
  EXPECT_THAT(out, HasSubstr("\"code\":0"));
  EXPECT_THAT(out, HasSubstr("Content-Type: application/json"));
}

// A client that gives up on a request (curl's --max-time closes the connection) has the calls
// made for it cancelled: the Sleep asked for a minute stops, and the next request is answered at
// once. Before, the replica slept on and the next request waited behind it.
TEST(HttpServerTest, AClientThatLeavesCancelsItsRequest) {
  auto stack = StartStack("Sleep");
  ASSERT_NE(stack, nullptr);
  Reply left = Curl("POST", stack->Url("/post"),
                    R"({"data": [{"text": "a"}], "parameters": {"ms": 60000}})", "--max-time 0.5");
  EXPECT_NE(left.code, 200);
  Reply next = Curl("POST", stack->Url("/post"),
                    R"({"data": [{"text": "b"}], "parameters": {"ms": 0}})", "--max-time 20");
  EXPECT_EQ(next.code, 200) << next.body;
}

TEST(HttpServerTest, ContinueAndBodyLimit) {
  auto stack = StartStack("Echo");
  ASSERT_NE(stack, nullptr);
  Json docs = Json::array();
  for (int i = 0; i < 100; ++i) docs.push_back({{"text", "doc-" + std::to_string(i)}});
  Reply reply = Curl("POST", stack->Url("/index"), Json{{"data", docs}}.dump(),
                     "-v --expect100-timeout 30 -H 'Expect: 100-continue'");
  EXPECT_THAT(reply.body, HasSubstr("HTTP/1.1 100 Continue"));
  EXPECT_EQ(reply.code, 200) << reply.body;
  EXPECT_THAT(reply.body, HasSubstr("doc-99"));

  Reply too_big = Curl("POST", stack->Url("/index"),
                       "{\"data\": [{\"text\": \"" + std::string(2 << 20, 'x') + "\"}]}",
                       "-H 'Expect: 100-continue'");
  EXPECT_EQ(too_big.code, 413) << too_big.body.substr(0, 200);
}

// The bodies held at once are bounded: a request that would pass the budget is refused with
// 503 before its body is read, and the budget is given back once a request is answered.
TEST(HttpServerTest, RequestBodiesHeldAtOnceAreBounded) {
  auto stack = StartStack("Echo", /*max_total_body_bytes=*/4096);
  ASSERT_NE(stack, nullptr);
  const std::string small = R"({"data": [{"text": "fits"}]})";
  for (int i = 0; i < 3; ++i) {  // released after each answer
    Reply fits = Curl("POST", stack->Url("/index"), small);
    EXPECT_EQ(fits.code, 200) << fits.body;
  }
  Reply over = Curl("POST", stack->Url("/index"),
                    "{\"data\": [{\"text\": \"" + std::string(8192, 'x') + "\"}]}");
  EXPECT_EQ(over.code, 503) << over.body.substr(0, 200);
  EXPECT_THAT(over.body, HasSubstr("max_total_body_bytes"));
  Reply after = Curl("POST", stack->Url("/index"), small);
  EXPECT_EQ(after.code, 200) << after.body;
}

TEST(HttpServerTest, ExecutorErrorIsOkWithHeaderStatus) {
  auto stack = StartStack("Fail");
  ASSERT_NE(stack, nullptr);
  Reply reply = Curl("POST", stack->Url("/foo"),
                     R"({"data": [{"text": "a"}], "parameters": {"fail": true}})");
  ASSERT_EQ(reply.code, 200) << reply.body;
  Json status = reply.json()["header"]["status"];
  EXPECT_EQ(status["code"], 1) << reply.body;
  EXPECT_EQ(status["exception"]["executor"], "Fail") << reply.body;
  EXPECT_FALSE(status["description"].get<std::string>().empty());
}

TEST(HttpServerTest, KilledReplicaIsServiceUnavailableNamingTheDeployment) {
  auto stack = StartStack("Echo");
  ASSERT_NE(stack, nullptr);
  ASSERT_EQ(Curl("POST", stack->Url("/post"), R"({"data": [{"text": "a"}]})").code, 200);
  stack->replica->Signal(SIGKILL);
  ASSERT_TRUE(stack->replica->Wait(std::chrono::seconds(10)).has_value());
  Reply reply = Curl("POST", stack->Url("/post"), R"({"data": [{"text": "a"}]})");
  EXPECT_EQ(reply.code, 503) << reply.body;
  EXPECT_THAT(reply.json()["detail"].get<std::string>(), HasSubstr("Deployment 'echo'"));
  Reply dry_run = Curl("GET", stack->Url("/dry_run"));
  EXPECT_EQ(dry_run.code, 503) << dry_run.body;
  EXPECT_THAT(dry_run.json()["description"].get<std::string>(), HasSubstr("echo"));
  EXPECT_EQ(Curl("GET", stack->Url("/health")).code, 503);
}

}  // namespace
}  // namespace shoal::gateway
