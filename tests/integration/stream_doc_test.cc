// Streaming endpoints over jina.JinaSingleDocumentRequestRPC/stream_doc, against a real
// `shoal executor` process: documents one message each, an Executor error as a last message,
// non-streaming endpoints, discovery's is_generator, a client that cancels, one that does not
// read.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/deployment.h"
#include "shoal/doc.h"
#include "tests/integration/child_process.h"
#include "tests/integration/stream_support.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

TEST(StreamDocTest, AStreamingEndpointSendsEachDocAsItsOwnMessage) {
  auto replica = testing::StartExecutor({"--uses", "Stream", "--name", "gen/rep-0"});
  ASSERT_NE(replica, nullptr);
  jina::SingleDocumentRequestProto request =
      testing::StreamRequest("/generate", "q", "hello", R"({"n": 4, "keep": "me"})");
  testing::StreamResult result = testing::StreamDoc(replica->address(), request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message() << replica->Log();
  ASSERT_EQ(result.messages.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const jina::SingleDocumentRequestProto& message = result.messages[i];
    Doc doc(&const_cast<docarray::DocProto&>(message.document()));
    EXPECT_EQ(doc.id(), "q-" + std::to_string(i));
    EXPECT_EQ(doc.text(), "hello " + std::to_string(i));
    EXPECT_EQ(doc.GetText("served_by"), "gen/rep-0");
    EXPECT_EQ(message.header().request_id(), "stream-req");
    EXPECT_EQ(message.header().exec_endpoint(), "/generate");
    EXPECT_EQ(message.header().status().code(), jina::StatusProto::SUCCESS);
    EXPECT_EQ(message.parameters().fields().at("keep").string_value(), "me");
  }
}

TEST(StreamDocTest, AnExecutorErrorIsALastMessageWithAnErrorStatus) {
  auto replica = testing::StartExecutor({"--uses", "Stream"});
  ASSERT_NE(replica, nullptr);
  testing::StreamResult result = testing::StreamDoc(
      replica->address(),
      testing::StreamRequest("/generate", "q", "x", R"({"n": 5, "fail_after": 2})"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 3u);
  EXPECT_EQ(result.messages[1].header().status().code(), jina::StatusProto::SUCCESS);
  const jina::StatusProto& status = result.messages[2].header().status();
  EXPECT_EQ(status.code(), jina::StatusProto::ERROR);
  EXPECT_THAT(status.description(), HasSubstr("failed on purpose after 2 documents"));
  EXPECT_EQ(status.exception().executor(), "Stream");
  EXPECT_FALSE(result.messages[2].has_document());
}

TEST(StreamDocTest, ANonStreamingEndpointAnswersItsDocsOneByOne) {
  auto replica = testing::StartExecutor({"--uses", "Echo", "--name", "echo/rep-0"});
  ASSERT_NE(replica, nullptr);
  testing::StreamResult result =
      testing::StreamDoc(replica->address(), testing::StreamRequest("/x", "d1", "hi"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 1u);
  Doc doc(&const_cast<docarray::DocProto&>(result.messages[0].document()));
  EXPECT_EQ(doc.id(), "d1");
  EXPECT_EQ(doc.GetText("served_by"), "echo/rep-0");
}

TEST(StreamDocTest, ARequestWithoutItsDocumentStreamsFromAnEmptyOne) {
  auto replica = testing::StartExecutor({"--uses", "Stream"});
  ASSERT_NE(replica, nullptr);
  jina::SingleDocumentRequestProto request = testing::StreamRequest("/g", "q", "x");
  request.clear_document();
  testing::StreamResult result = testing::StreamDoc(replica->address(), request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.messages.size(), 3u);
}

TEST(StreamDocTest, DiscoveryMarksStreamingEndpointsAsGenerators) {
  for (const auto& [uses, generator] :
       std::vector<std::pair<std::string, bool>>{{"Stream", true}, {"Echo", false}}) {
    auto replica = testing::StartExecutor({"--uses", uses});
    ASSERT_NE(replica, nullptr);
    auto stub = jina::JinaDiscoverEndpointsRPC::NewStub(
        grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    google::protobuf::Empty empty;
    jina::EndpointsProto endpoints;
    ASSERT_TRUE(stub->endpoint_discovery(&context, empty, &endpoints).ok());
    const auto& schema = endpoints.schemas().fields().at("/default").struct_value().fields();
    EXPECT_EQ(schema.at("is_generator").bool_value(), generator) << uses;
    const auto& dry_run = endpoints.schemas().fields().at("_jina_dry_run_").struct_value().fields();
    EXPECT_FALSE(dry_run.at("is_generator").bool_value());
  }
}

TEST(StreamDocTest, TheServiceIsServedAndListed) {
  auto replica = testing::StartExecutor({"--uses", "Stream"});
  ASSERT_NE(replica, nullptr);
  EXPECT_TRUE(testing::HealthServing(replica->address(), "jina.JinaSingleDocumentRequestRPC"));
}

// The Executor sees the cancellation (DocWriter::cancelled / Write false) and stops.
TEST(StreamDocTest, AClientThatCancelsStopsTheExecutor) {
  auto replica = testing::StartExecutor({"--uses", "Stream"});
  ASSERT_NE(replica, nullptr);
  testing::StreamResult result = testing::StreamDoc(
      replica->address(), testing::StreamRequest("/g", "q", "x", R"({"n": 100000, "ms": 2})"),
      /*cancel_after=*/3);
  EXPECT_EQ(result.messages.size(), 3u);
  EXPECT_TRUE(testing::WaitFor([&] {
    return replica->Log().find("the caller went away after") != std::string::npos;
  })) << replica->Log();
  // The replica serves the next call: its executor thread is free again.
  testing::StreamResult next =
      testing::StreamDoc(replica->address(), testing::StreamRequest("/g", "q", "x", R"({"n": 2})"));
  EXPECT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(next.messages.size(), 2u);
}

// A client that stops reading holds the Executor in Write after a bounded number of documents,
// rather than letting them pile up in memory.
TEST(StreamDocTest, AClientThatDoesNotReadBoundsTheStream) {
  auto replica = testing::StartExecutor({"--uses", "Stream"});
  ASSERT_NE(replica, nullptr);
  const std::string big(256 << 10, 'x');
  testing::StreamResult result = testing::StreamDoc(
      replica->address(), testing::StreamRequest("/g", "q", big, R"({"n": 100000})"),
      /*cancel_after=*/1, /*stall=*/absl::Milliseconds(500));
  EXPECT_EQ(result.messages.size(), 1u);
  std::string log;
  ASSERT_TRUE(testing::WaitFor([&] {
    log = replica->Log();
    return log.find("the caller went away after") != std::string::npos;
  })) << log;
  const size_t at = log.find("the caller went away after ") + 27;
  const int written = std::stoi(log.substr(at));
  EXPECT_LT(written, 64) << log;  // the queue, gRPC's windows and the read one, not 100000
}

// Streams are reads: a stateful replica refuses stream_doc for a write endpoint (it would change
// state outside the Raft log) and answers its reads.
TEST(StreamDocTest, AStatefulReplicaRefusesToStreamAWriteEndpoint) {
  const testing::TempDir tmp("stream-stateful");
  DeploymentOptions options;
  options.name = "counter";
  options.uses = "Counter";
  options.replicas = 1;
  options.stateful = true;
  options.workspace = tmp.str();
  options.raft_configuration = R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200,
      "LeaderLeaseTimeout": 100, "CommitTimeout": 5, "LogLevel": "WARN"})";
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 60000;
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string replica = dep.replica_addresses()[0][0];
  testing::StreamResult write =
      testing::StreamDoc(replica, testing::StreamRequest("/index", "d", "t"));
  EXPECT_EQ(write.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(write.status.error_message(), HasSubstr("'/index' is a write endpoint"));
  testing::StreamResult read =
      testing::StreamDoc(replica, testing::StreamRequest("/count", "c", ""));
  ASSERT_TRUE(read.status.ok()) << read.status.error_message();
  ASSERT_EQ(read.messages.size(), 1u);
}

TEST(StreamDocTest, AReplicaWithATokenRefusesAStreamWithoutIt) {
  auto replica =
      testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Stream",
                                    "--host", "127.0.0.1", "--port", "0"},
                                   true, std::chrono::seconds(30), {"SHOAL_AUTH_TOKEN=s3cret"});
  ASSERT_TRUE(replica.ok()) << replica.status();
  testing::StreamResult refused =
      testing::StreamDoc((*replica)->address(), testing::StreamRequest("/g", "q", "x"));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(refused.messages.empty());
}

TEST(StreamDocTest, ShoalPostStreamDocPrintsEachDoc) {
  auto replica = testing::StartExecutor({"--uses", "Stream"});
  ASSERT_NE(replica, nullptr);
  auto post =
      testing::ChildProcess::Start({testing::ShoalBinary(), "post", replica->address(), "--on",
                                    "/g", "--stream-doc", "--parameters", R"({"n": 3})"},
                                   /*wait_ready=*/false);
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ((*post)->Wait(std::chrono::seconds(20)), 0) << (*post)->Log();
  const std::string out = (*post)->Stdout();
  EXPECT_THAT(out, HasSubstr(R"("text":" 0")"));
  EXPECT_THAT(out, HasSubstr(R"("text":" 2")"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3) << out;
}

}  // namespace
}  // namespace shoal
