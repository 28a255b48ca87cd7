// stream_doc through a gateway, as Jina's client calls it (a SingleDocumentRequestProto to
// jina.JinaSingleDocumentRequestRPC/stream_doc, reading SingleDocumentRequestProto answers):
// a Flow whose first Deployment streams and whose second answers each streamed document, a
// Deployment with replicas, an Executor error, a client that cancels, a Flow without a
// streaming Deployment, and a graph a stream cannot go through.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "jina.pb.h"
#include "shoal/client.h"
#include "shoal/doc.h"
#include "tests/integration/child_process.h"
#include "tests/integration/stream_support.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<testing::ChildProcess> StartFlow(const testing::TempDir& dir,
                                                 const std::string& executors) {
  const std::filesystem::path yaml =
      dir.Write("flow.yml", "jtype: Flow\nwith:\n  host: 127.0.0.1\nexecutors:\n" + executors);
  auto flow = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", yaml.string(), "--port", "0"});
  EXPECT_TRUE(flow.ok()) << flow.status();
  return flow.ok() ? std::move(flow).value() : nullptr;
}

std::string DocText(const jina::SingleDocumentRequestProto& message, const char* field) {
  Doc doc(&const_cast<docarray::DocProto&>(message.document()));
  return std::string(doc.GetText(field).value_or(""));
}

std::string DocId(const jina::SingleDocumentRequestProto& message) {
  Doc doc(&const_cast<docarray::DocProto&>(message.document()));
  return std::string(doc.id());
}

TEST(StreamFlowTest, EachStreamedDocGoesThroughTheNextDeploymentInOrder) {
  const testing::TempDir dir("stream-flow");
  auto flow = StartFlow(dir,
                        "  - name: gen\n    uses: Stream\n"
                        "  - name: post\n    uses: Echo\n");
  ASSERT_NE(flow, nullptr);
  EXPECT_TRUE(testing::HealthServing(flow->address(), "jina.JinaSingleDocumentRequestRPC"));
  testing::StreamResult result = testing::StreamDoc(
      flow->address(), testing::StreamRequest("/generate", "q", "hello", R"({"n": 6})"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message() << flow->Log();
  ASSERT_EQ(result.messages.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(DocId(result.messages[i]), "q-" + std::to_string(i));
    EXPECT_EQ(DocText(result.messages[i], "text"), "hello " + std::to_string(i));
    // Echo, the second Deployment, marked it: it went through both.
    EXPECT_EQ(DocText(result.messages[i], "served_by"), "post/rep-0");
    EXPECT_EQ(result.messages[i].header().request_id(), "stream-req");
  }
}

TEST(StreamFlowTest, TheClientGetsEachDocAsItComesAndMayStop) {
  const testing::TempDir dir("stream-flow-client");
  auto flow = StartFlow(dir,
                        "  - name: gen\n    uses: Stream\n"
                        "  - name: post\n    uses: Echo\n");
  ASSERT_NE(flow, nullptr);
  auto client = Client::Connect(flow->address());
  ASSERT_TRUE(client.ok()) << client.status();
  DocList input;
  Doc doc = input.Add();
  doc.set_id("q");
  doc.set_text("hi");
  std::vector<std::string> texts;
  Status status = client->StreamDoc("/generate", doc,
                                    [&](const Doc& d) {
                                      texts.push_back(std::string(d.text()));
                                      return true;
                                    },
                                    {.parameters = *Params::FromJson(R"({"n": 3})")});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(texts, (std::vector<std::string>{"hi 0", "hi 1", "hi 2"}));

  // The callback stops a long stream: the call is cancelled, the Executor stops.
  int seen = 0;
  status = client->StreamDoc("/generate", doc, [&](const Doc&) { return ++seen < 2; },
                             {.parameters = *Params::FromJson(R"({"n": 100000, "ms": 2})")});
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(testing::WaitFor([&] {
    return flow->Log().find("the caller went away after") != std::string::npos;
  })) << flow->Log();

  // An Executor error is the call's error, after the docs before it.
  seen = 0;
  status = client->StreamDoc("/generate", doc, [&](const Doc&) { return ++seen > 0; },
                             {.parameters = *Params::FromJson(R"({"n": 5, "fail_after": 1})")});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(status.message(), HasSubstr("failed on purpose after 1 documents"));
  EXPECT_EQ(seen, 1);
}

TEST(StreamFlowTest, AnExecutorErrorMidStreamIsTheLastMessage) {
  const testing::TempDir dir("stream-flow-error");
  auto flow = StartFlow(dir,
                        "  - name: gen\n    uses: Stream\n"
                        "  - name: post\n    uses: Echo\n");
  ASSERT_NE(flow, nullptr);
  testing::StreamResult result = testing::StreamDoc(
      flow->address(),
      testing::StreamRequest("/generate", "q", "x", R"({"n": 5, "fail_after": 3})"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 4u);
  EXPECT_EQ(DocText(result.messages[2], "served_by"), "post/rep-0");
  EXPECT_EQ(result.messages[3].header().status().code(), jina::StatusProto::ERROR);
  EXPECT_THAT(result.messages[3].header().status().description(),
              HasSubstr("failed on purpose after 3 documents"));
}

TEST(StreamFlowTest, AClientThatCancelsStopsTheStreamingExecutor) {
  const testing::TempDir dir("stream-flow-cancel");
  auto flow = StartFlow(dir,
                        "  - name: gen\n    uses: Stream\n"
                        "  - name: post\n    uses: Echo\n");
  ASSERT_NE(flow, nullptr);
  testing::StreamResult result = testing::StreamDoc(
      flow->address(), testing::StreamRequest("/g", "q", "x", R"({"n": 100000, "ms": 2})"),
      /*cancel_after=*/3);
  EXPECT_EQ(result.messages.size(), 3u);
  EXPECT_TRUE(testing::WaitFor([&] {
    return flow->Log().find("the caller went away after") != std::string::npos;
  })) << flow->Log();
}

// A client that stops reading holds the streaming Executor after a bounded number of documents:
// every hop (gateway -> client, replica -> gateway) reads only as fast as the next one.
TEST(StreamFlowTest, AClientThatDoesNotReadBoundsTheWholeFlow) {
  const testing::TempDir dir("stream-flow-slow");
  auto flow = StartFlow(dir,
                        "  - name: gen\n    uses: Stream\n"
                        "  - name: post\n    uses: Echo\n");
  ASSERT_NE(flow, nullptr);
  const std::string big(256 << 10, 'x');
  testing::StreamResult result = testing::StreamDoc(
      flow->address(), testing::StreamRequest("/g", "q", big, R"({"n": 100000})"),
      /*cancel_after=*/1, /*stall=*/absl::Milliseconds(500));
  EXPECT_EQ(result.messages.size(), 1u);
  std::string log;
  ASSERT_TRUE(testing::WaitFor([&] {
    log = flow->Log();
    return log.find("the caller went away after") != std::string::npos;
  })) << log;
  const size_t at = log.find("the caller went away after ") + 27;
  // Seen: about 45 of 256 KiB each (HTTP/2 windows hold most); unbounded would be 100000.
  EXPECT_LT(std::stoi(log.substr(at)), 200) << log;
}

// A streaming replica that dies mid-stream ends the call with its transport error, naming the
// Deployment, after the documents it sent.
TEST(StreamFlowTest, AReplicaThatDiesMidStreamIsAnErrorNamingTheDeployment) {
  auto replica = testing::StartExecutor({"--uses", "Stream", "--name", "gen/rep-0"});
  ASSERT_NE(replica, nullptr);
  const testing::TempDir dir("stream-flow-dies");
  auto flow = StartFlow(dir, "  - name: gen\n    external: true\n    host: [" + replica->address() +
                                 "]\n  - name: post\n    uses: Echo\n");
  ASSERT_NE(flow, nullptr);
  auto stub = jina::JinaSingleDocumentRequestRPC::NewStub(
      grpc::CreateChannel(flow->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = stub->stream_doc(
      &context, testing::StreamRequest("/g", "q", "x", R"({"n": 100000, "ms": 5})"));
  jina::SingleDocumentRequestProto message;
  int read = 0;
  while (read < 2 && reader->Read(&message)) ++read;
  ASSERT_EQ(read, 2);
  replica->Signal(SIGKILL);
  while (reader->Read(&message)) ++read;
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("Deployment 'gen'"));
}

TEST(StreamFlowTest, ADeploymentWithReplicasStreamsFromEach) {
  const testing::TempDir dir("stream-deployment");
  const std::filesystem::path yaml =
      dir.Write("d.yml",
                "jtype: Deployment\nwith:\n  name: gen\n  uses: Stream\n  replicas: 2\n"
                "  host: 127.0.0.1\n");
  auto deployment = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "deployment", "--uses", yaml.string(), "--port", "0"});
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  std::set<std::string> served_by;
  for (int call = 0; call < 8; ++call) {
    testing::StreamResult result = testing::StreamDoc(
        (*deployment)->address(), testing::StreamRequest("/g", "q", "x", R"({"n": 3})"));
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    ASSERT_EQ(result.messages.size(), 3u);
    for (const auto& message : result.messages) served_by.insert(DocText(message, "served_by"));
  }
  EXPECT_EQ(served_by, (std::set<std::string>{"gen/rep-0", "gen/rep-1"}));
}

TEST(StreamFlowTest, WithoutAStreamingDeploymentTheAnswerComesDocByDoc) {
  const testing::TempDir dir("stream-flow-plain");
  auto flow = StartFlow(dir, "  - name: a\n    uses: Echo\n  - name: b\n    uses: Echo\n");
  ASSERT_NE(flow, nullptr);
  testing::StreamResult result =
      testing::StreamDoc(flow->address(), testing::StreamRequest("/x", "d", "t"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 1u);
  EXPECT_EQ(DocText(result.messages[0], "served_by"), "b/rep-0");
}

TEST(StreamFlowTest, AStreamCannotBeJoinedWithABranchThatDoesNotFollowIt) {
  const testing::TempDir dir("stream-flow-join");
  auto flow = StartFlow(dir,
                        "  - name: gen\n    uses: Stream\n    needs: gateway\n"
                        "  - name: side\n    uses: Echo\n    needs: gateway\n"
                        "  - name: join\n    uses: Echo\n    needs: [gen, side]\n");
  ASSERT_NE(flow, nullptr);
  testing::StreamResult result =
      testing::StreamDoc(flow->address(), testing::StreamRequest("/x", "d", "t"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(result.status.error_message(), HasSubstr("'join' joins the stream of 'gen'"));
}

TEST(StreamFlowTest, TwoStreamingDeploymentsOnParallelBranchesAreRefused) {
  const testing::TempDir dir("stream-flow-parallel");
  auto flow = StartFlow(dir,
                        "  - name: one\n    uses: Stream\n    needs: gateway\n"
                        "  - name: two\n    uses: Stream\n    needs: gateway\n"
                        "  - name: join\n    uses: Echo\n    needs: [one, two]\n");
  ASSERT_NE(flow, nullptr);
  testing::StreamResult result =
      testing::StreamDoc(flow->address(), testing::StreamRequest("/x", "d", "t"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(result.status.error_message(),
              HasSubstr("Deployments 'one' and 'two' both stream '/x' on parallel branches"));
}

// A second streaming Deployment after the first answers each streamed document whole: what it
// writes for it, in order.
TEST(StreamFlowTest, ALaterStreamingDeploymentAnswersEachDocWhole) {
  const testing::TempDir dir("stream-flow-two");
  auto flow = StartFlow(dir,
                        "  - name: one\n    uses: Stream\n"
                        "  - name: two\n    uses: Stream\n");
  ASSERT_NE(flow, nullptr);
  testing::StreamResult result =
      testing::StreamDoc(flow->address(), testing::StreamRequest("/x", "q", "t", R"({"n": 2})"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<std::string> texts;
  for (const auto& message : result.messages) texts.push_back(DocText(message, "text"));
  EXPECT_EQ(texts, (std::vector<std::string>{"t 0 0", "t 0 1", "t 1 0", "t 1 1"}));
}

}  // namespace
}  // namespace shoal
