// Dynamic batching with real processes: `shoal executor` serving the BatchRecorder library
// (batch_recorder.cc), configured by flag, by Executor YAML and by a Deployment. The Executor
// reports the sizes of the calls it got (`/sizes`), so the tests see the batches it saw.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/deployment.h"
#include "shoal/doc.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

constexpr char kRecorder[] = BATCH_RECORDER_PATH;

std::unique_ptr<testing::ChildProcess> StartRecorder(std::vector<std::string> args) {
  std::vector<std::string> argv = {testing::ShoalBinary(),
                                   "executor",
                                   "--host",
                                   "127.0.0.1",
                                   "--port",
                                   "0",
                                   "--name",
                                   "rec/rep-0"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = testing::ChildProcess::Start(argv);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(child).value() : nullptr;
}

// A request to `endpoint` with `docs` documents "<name>-<i>" and parameters from `params`.
jina::DataRequestProto MakeRequest(const std::string& endpoint, const std::string& name, int docs,
                                   const std::string& params = "{}") {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(name);
  request.mutable_header()->set_exec_endpoint(endpoint);
  std::string error;
  std::optional<Params> parsed = Params::FromJson(params, &error);
  EXPECT_TRUE(parsed.has_value()) << error;
  if (parsed.has_value()) *request.mutable_parameters() = parsed->proto();
  DocList list(request.mutable_data()->mutable_docs());
  for (int i = 0; i < docs; ++i) list.Add().set_text(name + "-" + std::to_string(i));
  return request;
}

struct Answer {
  grpc::Status status;
  jina::DataRequestProto response;
  std::vector<std::string> Texts() {
    std::vector<std::string> texts;
    for (Doc doc : DocList(response.mutable_data()->mutable_docs())) {
      texts.emplace_back(doc.text());
    }
    return texts;
  }
};

// Sends every request at once (process_single_data, one thread each) and waits for all answers.
std::vector<Answer> SendConcurrently(const std::string& address,
                                     const std::vector<jina::DataRequestProto>& requests) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(channel);
  std::vector<Answer> answers(requests.size());
  std::vector<std::thread> senders;
  for (size_t i = 0; i < requests.size(); ++i) {
    senders.emplace_back([&, i] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      answers[i].status = stub->process_single_data(&context, requests[i], &answers[i].response);
    });
  }
  for (std::thread& sender : senders) sender.join();
  return answers;
}

// The sizes of the `/embed` calls the Executor got, "8,8".
std::string Sizes(const std::string& address) {
  std::vector<Answer> answer = SendConcurrently(address, {MakeRequest("/sizes", "sizes", 1)});
  EXPECT_TRUE(answer[0].status.ok()) << answer[0].status.error_message();
  std::vector<std::string> texts = answer[0].Texts();
  return texts.empty() ? "<none>" : texts[0];
}

TEST(BatchingProcessTest, SixtyFourConcurrentRequestsMakeBatchesOfThePreferredSize) {
  auto replica = StartRecorder({"--uses", kRecorder, "--uses-dynamic-batching",
                                R"({"/embed": {"preferred_batch_size": 8, "timeout": 60000}})"});
  ASSERT_NE(replica, nullptr);
  std::vector<jina::DataRequestProto> requests;
  for (int i = 0; i < 64; ++i) {
    requests.push_back(MakeRequest("/embed", "c" + std::to_string(i), 1, R"({"tag": "x"})"));
  }
  std::vector<Answer> answers = SendConcurrently(replica->address(), requests);
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(answers[i].status.ok()) << answers[i].status.error_message() << replica->Log();
    EXPECT_EQ(answers[i].response.header().request_id(), "c" + std::to_string(i));
    EXPECT_THAT(answers[i].Texts(), ::testing::ElementsAre("c" + std::to_string(i) + "-0|x"));
  }
  EXPECT_EQ(Sizes(replica->address()), "8,8,8,8,8,8,8,8");
}

TEST(BatchingProcessTest, CallStreamMessagesAreBatchedAndAnsweredInOrder) {
  auto replica = StartRecorder({"--uses", kRecorder, "--uses-dynamic-batching",
                                R"({"/embed": {"preferred_batch_size": 4, "timeout": 60000}})"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->Call(&context);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(stream->Write(MakeRequest("/embed", "s" + std::to_string(i), 1)));
  }
  stream->WritesDone();
  std::vector<std::string> ids;
  jina::DataRequestProto response;
  while (stream->Read(&response)) {
    ids.push_back(response.header().request_id());
    DocList docs(response.mutable_data()->mutable_docs());
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(docs[0].text(), response.header().request_id() + "-0|");
  }
  ASSERT_TRUE(stream->Finish().ok()) << replica->Log();
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"));
  EXPECT_EQ(Sizes(replica->address()), "4,4");
}

TEST(BatchingProcessTest, ExecutorYamlTimeoutFlushesAShortQueue) {
  testing::TempDir dir;
  const std::filesystem::path yaml = dir.path() / "recorder.yml";
  std::ofstream(yaml) << "jtype: " << kRecorder << "\n"
                      << "dynamic_batching:\n"
                      << "  /embed: {preferred_batch_size: 100, timeout: 200}\n";
  auto replica = StartRecorder({"--uses", yaml.string()});
  ASSERT_NE(replica, nullptr);
  std::vector<Answer> answers = SendConcurrently(
      replica->address(), {MakeRequest("/embed", "a", 2), MakeRequest("/embed", "b", 1)});
  for (Answer& answer : answers) ASSERT_TRUE(answer.status.ok()) << replica->Log();
  EXPECT_THAT(answers[0].Texts(), ::testing::ElementsAre("a-0|", "a-1|"));
  EXPECT_THAT(answers[1].Texts(), ::testing::ElementsAre("b-0|"));
  // Never 100 documents: only the timeout flushed them (one batch, or two when the second
  // request came after the first flush).
  const std::string sizes = Sizes(replica->address());
  EXPECT_TRUE(sizes == "3" || sizes == "2,1" || sizes == "1,2") << sizes;
}

TEST(BatchingProcessTest, ARequestOverMaxBatchSizeIsSplitAndReassembled) {
  auto replica = StartRecorder(
      {"--uses", kRecorder, "--uses-dynamic-batching",
       R"({"/embed": {"preferred_batch_size": 4, "max_batch_size": 4, "timeout": 100}})"});
  ASSERT_NE(replica, nullptr);
  std::vector<Answer> answers =
      SendConcurrently(replica->address(), {MakeRequest("/embed", "big", 10)});
  ASSERT_TRUE(answers[0].status.ok()) << answers[0].status.error_message() << replica->Log();
  std::vector<std::string> texts = answers[0].Texts();
  ASSERT_EQ(texts.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(texts[i], "big-" + std::to_string(i) + "|");
  EXPECT_EQ(Sizes(replica->address()), "4,4,2");
}

TEST(BatchingProcessTest, ParametersAreNeverMixedAndAnErrorFailsOnlyItsBatch) {
  auto replica = StartRecorder({"--uses", kRecorder, "--uses-dynamic-batching",
                                R"({"/embed": {"preferred_batch_size": 2, "timeout": 60000}})"});
  ASSERT_NE(replica, nullptr);
  std::vector<jina::DataRequestProto> requests;
  for (int i = 0; i < 6; ++i) {
    const char* params = i % 3 == 0   ? R"({"tag": "a"})"
                         : i % 3 == 1 ? R"({"tag": "b"})"
                                      : R"({"tag": "c", "fail": true})";
    requests.push_back(MakeRequest("/embed", "p" + std::to_string(i), 1, params));
  }
  std::vector<Answer> answers = SendConcurrently(replica->address(), requests);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(answers[i].status.ok()) << answers[i].status.error_message();
    const jina::StatusProto& status = answers[i].response.header().status();
    if (i % 3 == 2) {
      EXPECT_EQ(status.code(), jina::StatusProto::ERROR);
      EXPECT_THAT(status.description(), HasSubstr("asked to fail"));
      continue;
    }
    EXPECT_EQ(status.code(), jina::StatusProto::SUCCESS) << status.description();
    EXPECT_THAT(answers[i].Texts(),
                ::testing::ElementsAre("p" + std::to_string(i) + "-0|" + (i % 3 == 0 ? "a" : "b")));
  }
  EXPECT_EQ(Sizes(replica->address()), "2,2,2");
}

TEST(BatchingProcessTest, AFullQueueRefusesWithResourceExhaustedNamingTheEndpoint) {
  auto replica = StartRecorder(
      {"--uses", kRecorder, "--uses-dynamic-batching",
       R"({"/embed": {"preferred_batch_size": 100, "timeout": 2000, "max_queue_size": 2}})"});
  ASSERT_NE(replica, nullptr);
  std::vector<Answer> answers = SendConcurrently(
      replica->address(), {MakeRequest("/embed", "q0", 1), MakeRequest("/embed", "q1", 1),
                           MakeRequest("/embed", "q2", 1)});
  int ok = 0;
  for (Answer& answer : answers) {
    if (answer.status.ok()) {
      ++ok;
      continue;
    }
    EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(answer.status.error_message(), HasSubstr("endpoint '/embed'"));
    EXPECT_THAT(answer.status.error_message(), HasSubstr("max_queue_size"));
  }
  EXPECT_EQ(ok, 2);
}

TEST(BatchingProcessTest, ConfigurationErrorsStopTheReplicaNamingTheEndpoint) {
  auto unknown = testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--port", "0",
                                               "--uses", kRecorder, "--uses-dynamic-batching",
                                               R"({"/nope": {"preferred_batch_size": 2}})"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("'/nope'"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("uses_dynamic_batching"));
  auto bad_key = testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--port", "0",
                                               "--uses", kRecorder, "--uses-dynamic-batching",
                                               R"({"/embed": {"preferred_batch_size": 0}})"});
  ASSERT_FALSE(bad_key.ok());
  EXPECT_THAT(bad_key.status().message(),
              HasSubstr("--uses-dynamic-batching:1:37: /embed.preferred_batch_size: must be > 0"));
}

TEST(BatchingProcessTest, ADeploymentPassesUsesDynamicBatchingToItsReplicas) {
  DeploymentOptions options;
  options.name = "rec";
  options.uses = kRecorder;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 30000;
  options.uses_dynamic_batching = R"({"/embed": {"preferred_batch_size": 4, "timeout": 60000}})";
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  const std::string address = "127.0.0.1:" + std::to_string(dep.port());
  std::vector<jina::DataRequestProto> requests;
  for (int i = 0; i < 8; ++i) requests.push_back(MakeRequest("/embed", "d" + std::to_string(i), 1));
  std::vector<Answer> answers = SendConcurrently(address, requests);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(answers[i].status.ok()) << answers[i].status.error_message();
    EXPECT_THAT(answers[i].Texts(), ::testing::ElementsAre("d" + std::to_string(i) + "-0|"));
  }
  EXPECT_EQ(Sizes(address), "4,4");
}

}  // namespace
}  // namespace shoal
