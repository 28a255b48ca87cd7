// A real `shoal executor` against hostile requests: oversized messages, too many documents,
// bytes that are not a request. Each is refused with an error naming what was wrong, and the
// replica keeps serving.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/doc.h"
#include "tests/integration/child_process.h"

namespace shoal {
namespace {

// A shared-library Executor whose /embed sleeps `parameters.ms` without looking at cancellation.
constexpr char kBatchRecorder[] = BATCH_RECORDER_PATH;

using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<testing::ChildProcess> StartExecutor(std::vector<std::string> args) {
  std::vector<std::string> argv = {
      testing::ShoalBinary(), "executor", "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = testing::ChildProcess::Start(argv);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(child).value() : nullptr;
}

std::shared_ptr<grpc::Channel> Unlimited(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

jina::DataRequestProto Request(int docs, size_t text_bytes = 1) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id("req-1");
  request.mutable_header()->set_exec_endpoint("/x");
  DocList list(request.mutable_data()->mutable_docs());
  for (int i = 0; i < docs; ++i) list.Add().set_text(std::string(text_bytes, 'x'));
  return request;
}

grpc::Status Send(const std::string& address, const jina::DataRequestProto& request) {
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(Unlimited(address));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  jina::DataRequestProto response;
  return stub->process_single_data(&context, request, &response);
}

// Sends raw bytes to a unary method.
grpc::Status SendBytes(const std::string& address, const std::string& method,
                       const std::string& bytes) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  grpc::Status status(grpc::StatusCode::UNKNOWN, "no answer within 10 s");
  absl::Notification done;
  generic.UnaryCall(&context, method, {}, &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(10))) context.TryCancel();
  done.WaitForNotification();
  return status;
}

TEST(ReplicaLimitsTest, ARequestOverTheSizeLimitIsRefusedAndTheReplicaKeepsServing) {
  auto replica = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(replica, nullptr);
  const jina::DataRequestProto big = Request(1, 70 << 20);
  grpc::Status refused = Send(replica->address(), big);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr(std::to_string(64 << 20)));
  EXPECT_TRUE(Send(replica->address(), Request(3)).ok());
  // Shoal's client says whose limit it is and how to raise it.
  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok()) << client.status();
  DocList docs;
  docs.Add().set_text(std::string(70 << 20, 'x'));
  for (bool stream : {true, false}) {
    StatusOr<DocList> posted = client->Post("/x", docs, {.stream = stream});
    EXPECT_EQ(posted.status().code(), absl::StatusCode::kResourceExhausted) << posted.status();
    EXPECT_THAT(posted.status().message(), HasSubstr("--max-message-size"));
  }

  auto raised = StartExecutor({"--uses", "Echo", "--max-message-size", std::to_string(100 << 20)});
  ASSERT_NE(raised, nullptr);
  grpc::Status passed = Send(raised->address(), big);
  EXPECT_TRUE(passed.ok()) << passed.error_message();
}

TEST(ReplicaLimitsTest, ManyLargeRequestsAtOnceAreRefusedPastTheMemoryQuota) {
  // 48 requests of 8 MiB at once (384 MiB) against a replica whose gRPC may hold 64 MiB: without
  // a quota it took them all (and 1.5 GB for 64 requests of 12 MB).
  auto replica = StartExecutor({"--uses", "Sleep", "--uses-with", R"({"ms": 50})",
                                "--max-grpc-memory", std::to_string(64 << 20)});
  ASSERT_NE(replica, nullptr);
  const jina::DataRequestProto big = Request(1, 8 << 20);
  std::vector<grpc::Status> statuses(48);
  std::vector<std::thread> senders;
  for (size_t i = 0; i < statuses.size(); ++i) {
    senders.emplace_back([&, i] { statuses[i] = Send(replica->address(), big); });
  }
  for (std::thread& sender : senders) sender.join();
  int refused = 0;
  for (const grpc::Status& status : statuses) {
    if (status.ok()) continue;
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
    ++refused;
  }
  EXPECT_GT(refused, 0);
  // One at a time they fit, and the replica serves on.
  grpc::Status alone = Send(replica->address(), big);
  EXPECT_TRUE(alone.ok()) << alone.error_message();
  EXPECT_TRUE(Send(replica->address(), Request(3)).ok());
}

TEST(ReplicaLimitsTest, TooManyDocumentsAreRefusedBeforeTheExecutorSeesThem) {
  auto replica = StartExecutor({"--uses", "Echo", "--name", "echo/rep-0"});
  ASSERT_NE(replica, nullptr);
  // A million empty documents are 2 MB on the wire.
  jina::DataRequestProto many = Request(0);
  for (int i = 0; i < 1000000; ++i) many.mutable_data()->mutable_docs()->add_docs();
  grpc::Status refused = Send(replica->address(), many);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("max_docs_per_request (10000)"));
  EXPECT_THAT(refused.error_message(), HasSubstr("1000000 documents"));

  // The same documents as docs_bytes.
  jina::DataRequestProto as_bytes = Request(0);
  as_bytes.mutable_data()->set_docs_bytes(many.data().docs().SerializeAsString());
  refused = Send(replica->address(), as_bytes);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();

  EXPECT_EQ(testing::ReplicaInfo(replica->address())["processed_requests"], "0");
  EXPECT_TRUE(Send(replica->address(), Request(10000)).ok());
  EXPECT_EQ(testing::ReplicaInfo(replica->address())["processed_requests"], "1");

  auto raised = StartExecutor({"--uses", "Echo", "--max-docs-per-request", "0"});
  ASSERT_NE(raised, nullptr);
  EXPECT_TRUE(Send(raised->address(), Request(20000)).ok());
}

TEST(ReplicaLimitsTest, BytesThatAreNotARequestAreInvalidArgumentNamingTheRpc) {
  auto replica = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(replica, nullptr);
  const std::string garbage = "\x0a\xff\xff\xff\xff\x0f not a protobuf";
  grpc::Status single =
      SendBytes(replica->address(), "/jina.JinaSingleDataRequestRPC/process_single_data", garbage);
  EXPECT_EQ(single.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << single.error_message();
  EXPECT_THAT(single.error_message(), HasSubstr("process_single_data"));
  EXPECT_THAT(single.error_message(), HasSubstr("jina.DataRequestProto"));
  grpc::Status data =
      SendBytes(replica->address(), "/jina.JinaDataRequestRPC/process_data", garbage);
  EXPECT_EQ(data.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << data.error_message();
  EXPECT_THAT(data.error_message(), HasSubstr("jina.DataRequestListProto"));

  // On a Call stream: the broken message is named by its position.
  auto channel = grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  auto stream = generic.PrepareCall(&context, "/jina.JinaRPC/Call", &cq);
  void* tag = nullptr;
  bool ok = false;
  stream->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const std::string good = Request(1).SerializeAsString();
  for (const std::string* bytes : std::vector<const std::string*>{&good, &garbage}) {
    grpc::Slice slice(*bytes);
    grpc::ByteBuffer message(&slice, 1);
    stream->Write(message, reinterpret_cast<void*>(2));
    ASSERT_TRUE(cq.Next(&tag, &ok));
  }
  stream->WritesDone(reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::ByteBuffer answer;
  int answers = 0;
  while (true) {
    stream->Read(&answer, reinterpret_cast<void*>(4));
    if (!cq.Next(&tag, &ok) || !ok) break;
    ++answers;
  }
  grpc::Status status;
  stream->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("jina.JinaRPC/Call message #2"));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }

  EXPECT_TRUE(Send(replica->address(), Request(1)).ok());
}

// Writes up to `max_writes` copies of `request` on a JinaRPC/Call stream to `address` without
// reading any answer; returns how many writes completed before one stayed blocked for 3 s.
int WritesAcceptedWithoutReading(const std::string& address, const std::string& request,
                                 int max_writes) {
  grpc::GenericStub generic(Unlimited(address));
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  auto stream = generic.PrepareCall(&context, "/jina.JinaRPC/Call", &cq);
  void* tag = nullptr;
  bool ok = false;
  stream->StartCall(reinterpret_cast<void*>(1));
  int accepted = -1;
  if (cq.Next(&tag, &ok) && ok) {
    accepted = 0;
    grpc::Slice slice(request);
    grpc::ByteBuffer message(&slice, 1);
    while (accepted < max_writes) {
      stream->Write(message, reinterpret_cast<void*>(2));
      auto status =
          cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::seconds(3));
      if (status != grpc::CompletionQueue::GOT_EVENT) break;  // blocked: the server stopped reading
      if (!ok) break;
      ++accepted;
    }
  }
  context.TryCancel();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return accepted;
}

TEST(ReplicaLimitsTest, AClientThatDoesNotReadIsNotReadFrom) {
  auto replica = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(replica, nullptr);
  // 240 requests of 1 MB: without flow control the replica holds every answer.
  const std::string request = Request(1, 1 << 20).SerializeAsString();
  const int accepted = WritesAcceptedWithoutReading(replica->address(), request, 240);
  EXPECT_GE(accepted, 60);   // about the answers a stream may hold (64, or 64 MB) were read
  EXPECT_LT(accepted, 160);  // then reading stopped, besides what the transport buffers
  EXPECT_TRUE(Send(replica->address(), Request(1)).ok());
}

TEST(ReplicaLimitsTest, AClientThatReadsGetsEveryAnswerPastTheHeldBytes) {
  auto replica = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaRPC::NewStub(Unlimited(replica->address()));
  const jina::DataRequestProto request = Request(1, 1 << 20);
  grpc::ClientContext context;
  auto stream = stub->Call(&context);
  constexpr int kRequests = 150;  // 150 MB in all: more than a stream may hold at once
  std::thread writer([&] {
    for (int i = 0; i < kRequests; ++i) {
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  jina::DataRequestProto answer;
  int answers = 0;
  while (stream->Read(&answer)) ++answers;
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answers, kRequests);
}

TEST(ReplicaLimitsTest, ADeploymentsMaxDocsPerRequestIsAnErrorNotARetry) {
  DeploymentOptions options;
  options.name = "enc";
  options.uses = "Echo";
  options.replicas = 2;
  options.max_docs_per_request = 5;
  options.shoal_binary = testing::ShoalBinary();
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string gateway = "127.0.0.1:" + std::to_string(dep.port());
  grpc::Status refused = Send(gateway, Request(6));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("max_docs_per_request (5)"));
  EXPECT_THAT(refused.error_message(), HasSubstr("enc/rep-"));
  EXPECT_TRUE(Send(gateway, Request(5)).ok());
}

// SIGTERM while a request runs for ten minutes: after the shutdown timeout the call is cancelled.
// An Executor that polls request_cancelled() (Sleep) stops and the replica exits cleanly; one
// that never looks (BatchRecorder's /embed sleeps regardless) is abandoned, and the replica exits
// 1 naming the request it abandoned.
TEST(ReplicaLimitsTest, SigtermDuringAVeryLongRequestExitsAfterTheShutdownTimeout) {
  for (const bool polls : {true, false}) {
    SCOPED_TRACE(polls ? "Sleep" : "BatchRecorder");
    auto replica =
        StartExecutor({"--uses", polls ? "Sleep" : std::string(kBatchRecorder) + ":BatchRecorder",
                       "--name", "sleep/rep-0", "--shutdown-timeout", "300"});
    ASSERT_NE(replica, nullptr);
    jina::DataRequestProto request = Request(1);
    request.mutable_header()->set_request_id("the-long-one");
    request.mutable_header()->set_exec_endpoint(polls ? "/slow" : "/embed");
    (*request.mutable_parameters()->mutable_fields())["ms"].set_number_value(600000);
    grpc::Status status;
    std::thread post([&] { status = Send(replica->address(), request); });
    bool pending = false;
    for (int i = 0; i < 500 && !pending; ++i) {
      pending = testing::ReplicaInfo(replica->address())["pending_requests"] == "1";
    }
    ASSERT_TRUE(pending);
    replica->Signal(SIGTERM);
    std::optional<int> exit_code = replica->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(exit_code.has_value()) << "still running 30 s after SIGTERM\n" << replica->Log();
    if (polls) {
      EXPECT_EQ(*exit_code, 0) << replica->Log();
      EXPECT_THAT(replica->Log(), Not(HasSubstr("abandoning")));
    } else {
      EXPECT_EQ(*exit_code, 1);
      EXPECT_THAT(replica->Log(),
                  HasSubstr("abandoning endpoint '/embed', request 'the-long-one'"));
    }
    post.join();
    EXPECT_FALSE(status.ok());
  }
}

}  // namespace
}  // namespace shoal
