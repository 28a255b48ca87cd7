// The gateway's gRPC server in process, over a router to a fake replica: what a client may ask
// for on a Call stream and what errors it sees.
#include "src/gateway/gateway_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "src/gateway/gateway.h"
#include "src/routing/deployment_router.h"
#include "src/routing/replica_set.h"
#include "tests/testing/fake_jina_server.h"
#include "tests/testing/unused_port.h"

namespace shoal::gateway {
namespace {

using testing::UnusedPort;

using ::testing::HasSubstr;
using ::testing::Not;

jina::DataRequestProto Request(int i) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id("req-" + std::to_string(i));
  request.mutable_header()->set_exec_endpoint("/x");
  request.mutable_data()->mutable_docs()->add_docs();
  return request;
}

// A gateway over one Deployment "echo" whose one replica is `replica` (host:port).
class GatewayServerTest : public ::testing::Test {
 protected:
  void StartGateway(GatewayServer::Options options, routing::Address replica) {
    std::vector<std::unique_ptr<routing::ReplicaSet>> shards;
    shards.push_back(std::make_unique<routing::ReplicaSet>(
        std::vector<routing::Address>{replica}, routing::ReplicaSet::Options{.name = "echo"}));
    router_ = std::make_unique<routing::DeploymentRouter>(
        routing::DeploymentRouter::Options{.name = "echo", .retries = 0}, std::move(shards));
    gateway_ = std::make_unique<Gateway>(std::vector<routing::DeploymentRouter*>{router_.get()});
    options.host = "127.0.0.1";
    auto server = GatewayServer::Start(gateway_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    stub_ = jina::JinaRPC::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }

  void StartWithFake(GatewayServer::Options options) {
    auto fake = testing::FakeJinaServer::Start();
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = std::move(fake).value();
    StartGateway(options, routing::Address{.host = "127.0.0.1", .port = fake_->port()});
  }

  // Streams `n` requests with the given __prefetch__ and reads every answer.
  void Stream(int n, const std::string& prefetch) {
    grpc::ClientContext context;
    context.AddMetadata("__prefetch__", prefetch);
    auto stream = stub_->Call(&context);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(stream->Write(Request(i)));
    stream->WritesDone();
    jina::DataRequestProto answer;
    int answers = 0;
    while (stream->Read(&answer)) ++answers;
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(answers, n);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    if (gateway_ != nullptr) gateway_->Drain(absl::Seconds(1));
  }

  std::unique_ptr<testing::FakeJinaServer> fake_;
  std::unique_ptr<routing::DeploymentRouter> router_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<GatewayServer> server_;
  std::unique_ptr<jina::JinaRPC::Stub> stub_;
};

TEST_F(GatewayServerTest, AClientsPrefetchCannotRaiseTheOperators) {
  StartWithFake({.prefetch = 2});
  fake_->SetDelay([](const jina::DataRequestProto&) { return absl::Milliseconds(50); });
  Stream(8, "20");
  EXPECT_LE(fake_->max_concurrent(), 2);
}

TEST_F(GatewayServerTest, AClientsPrefetchMayLowerTheOperators) {
  StartWithFake({.prefetch = 8});
  fake_->SetDelay([](const jina::DataRequestProto&) { return absl::Milliseconds(20); });
  Stream(6, "1");
  EXPECT_EQ(fake_->max_concurrent(), 1);
}

grpc::Status SendOne(jina::JinaRPC::Stub& stub, std::string* error_description) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub.Call(&context);
  EXPECT_TRUE(stream->Write(Request(0)));
  stream->WritesDone();
  jina::DataRequestProto answer;
  while (stream->Read(&answer)) *error_description = answer.header().status().description();
  return stream->Finish();
}

// Writes up to `max_writes` copies of `request` on a Call stream without reading any answer;
// returns how many writes completed before one stayed blocked for 3 s.
int WritesAcceptedWithoutReading(int port, const std::string& request, int max_writes) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  grpc::GenericStub generic(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                      grpc::InsecureChannelCredentials(), args));
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
      if (status != grpc::CompletionQueue::GOT_EVENT || !ok) break;  // blocked, or failed
      ++accepted;
    }
  }
  context.TryCancel();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return accepted;
}

TEST_F(GatewayServerTest, AClientThatDoesNotReadIsNotReadFrom) {
  StartWithFake({.prefetch = 10});
  // 200 requests of 1 MB: without flow control the gateway holds every answer.
  jina::DataRequestProto request = Request(0);
  request.mutable_parameters()->mutable_fields()->insert({"pad", google::protobuf::Value()});
  (*request.mutable_parameters()->mutable_fields())["pad"].set_string_value(
      std::string(1 << 20, 'x'));
  const int accepted =
      WritesAcceptedWithoutReading(server_->port(), request.SerializeAsString(), 200);
  EXPECT_GE(accepted, 10);   // the prefetch was read
  EXPECT_LT(accepted, 120);  // then reading stopped, besides what the transport buffers
  Stream(3, "0");            // other streams are served
}

TEST_F(GatewayServerTest, AReplicaThatHoldsItsAnswersGetsNoMoreThanThePrefetch) {
  StartWithFake({.prefetch = 10});
  fake_->SetHoldUntil(1000);  // answers nothing while the stream lasts
  jina::DataRequestProto request = Request(0);
  (*request.mutable_parameters()->mutable_fields())["pad"].set_string_value(
      std::string(1 << 20, 'x'));
  const int accepted =
      WritesAcceptedWithoutReading(server_->port(), request.SerializeAsString(), 200);
  EXPECT_GE(accepted, 10);
  EXPECT_LT(accepted, 120);  // the client's writes stopped
  // The requests reached the replica as messages of one Call stream, no more than the prefetch.
  EXPECT_LE(fake_->requests().size(), 10u);
  EXPECT_EQ(fake_->calls(), 1);
}

TEST_F(GatewayServerTest, AClientThatReadsGetsEveryAnswerPastTheHeldBytes) {
  StartWithFake({.prefetch = 10});
  jina::DataRequestProto request = Request(0);
  (*request.mutable_parameters()->mutable_fields())["pad"].set_string_value(
      std::string(1 << 20, 'x'));
  grpc::ClientContext context;
  auto stream = stub_->Call(&context);
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

grpc::Status SendUnary(int port, const jina::DataRequestProto& request) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  jina::DataRequestProto response;
  return stub->process_single_data(&context, request, &response);
}

TEST_F(GatewayServerTest, ARequestOverTheSizeLimitIsRefused) {
  StartWithFake({});
  jina::DataRequestProto big = Request(0);
  (*big.mutable_parameters()->mutable_fields())["pad"].set_string_value(std::string(70 << 20, 'x'));
  grpc::Status refused = SendUnary(server_->port(), big);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr(std::to_string(64 << 20)));
  EXPECT_TRUE(SendUnary(server_->port(), Request(1)).ok());
}

TEST_F(GatewayServerTest, TheSizeLimitCanBeRaised) {
  StartWithFake({.max_receive_message_bytes = 100 << 20});
  jina::DataRequestProto big = Request(0);
  (*big.mutable_parameters()->mutable_fields())["pad"].set_string_value(std::string(70 << 20, 'x'));
  grpc::Status passed = SendUnary(server_->port(), big);
  EXPECT_TRUE(passed.ok()) << passed.error_message();
}

TEST_F(GatewayServerTest, ErrorsNameTheReplicaNotItsAddress) {
  const int port = UnusedPort();
  StartGateway({}, routing::Address{.host = "127.0.0.1", .port = port, .name = "echo/rep-0"});
  std::string description;
  EXPECT_TRUE(SendOne(*stub_, &description).ok());
  EXPECT_THAT(description, HasSubstr("echo/rep-0"));
  EXPECT_THAT(description, Not(HasSubstr(std::to_string(port))));
  EXPECT_THAT(description, Not(HasSubstr("127.0.0.1")));
  EXPECT_THAT(description, Not(HasSubstr("ipv4:")));
}

TEST_F(GatewayServerTest, InternalAddressesOnlyWhenAskedFor) {
  const int port = UnusedPort();
  std::vector<std::unique_ptr<routing::ReplicaSet>> shards;
  shards.push_back(std::make_unique<routing::ReplicaSet>(
      std::vector<routing::Address>{
          routing::Address{.host = "127.0.0.1", .port = port, .name = "echo/rep-0"}},
      routing::ReplicaSet::Options{.name = "echo", .expose_addresses = true}));
  router_ = std::make_unique<routing::DeploymentRouter>(
      routing::DeploymentRouter::Options{.name = "echo", .retries = 0}, std::move(shards));
  gateway_ = std::make_unique<Gateway>(std::vector<routing::DeploymentRouter*>{router_.get()});
  auto server = GatewayServer::Start(gateway_.get(), {.host = "127.0.0.1"});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(server).value();
  auto stub = jina::JinaRPC::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  std::string description;
  EXPECT_TRUE(SendOne(*stub, &description).ok());
  EXPECT_THAT(description, HasSubstr("127.0.0.1:" + std::to_string(port)));
}

TEST_F(GatewayServerTest, BytesThatAreNotARequestAreInvalidArgumentNamingTheRpc) {
  StartWithFake({});
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  const std::string garbage = "\x0a\xff\xff\xff\xff\x0f not a protobuf";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  grpc::Status status;
  absl::Notification done;
  generic.UnaryCall(&context, "/jina.JinaSingleDataRequestRPC/process_single_data", {}, &request,
                    &response, [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(),
              HasSubstr("jina.JinaSingleDataRequestRPC/process_single_data: the request"));
  EXPECT_THAT(status.error_message(), HasSubstr("is not a jina."));
}

// grpc.health.v1.Health/Check for `service` ("" is the server as a whole): the answer's bytes,
// or the call's error.
grpc::Status CheckHealth(const std::string& target, const std::string& service,
                         std::string* answer) {
  grpc::GenericStub generic(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::string bytes = "\x0a" + std::string(1, static_cast<char>(service.size())) + service;
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status;
  absl::Notification done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request, &response,
                    [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  done.WaitForNotification();
  std::vector<grpc::Slice> slices;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) answer->append(s.begin(), s.end());
  }
  return status;
}

TEST_F(GatewayServerTest, EveryServiceAnswersServingToHealthChecks) {
  StartWithFake({});
  const std::string target = "127.0.0.1:" + std::to_string(server_->port());
  for (const std::string service :
       {"", "jina.JinaRPC", "jina.JinaSingleDataRequestRPC", "jina.JinaDataRequestRPC",
        "jina.JinaDiscoverEndpointsRPC", "jina.JinaGatewayDryRunRPC", "jina.JinaInfoRPC"}) {
    std::string answer;
    grpc::Status status = CheckHealth(target, service, &answer);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(answer, std::string("\x08\x01")) << service;  // SERVING
  }
}

// Whether ::1 is configured (Linux lists it in /proc/net/if_inet6).
bool HasIpv6Loopback() {
  std::ifstream in("/proc/net/if_inet6");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("00000000000000000000000000000001 ", 0) == 0) return true;
  }
  return false;
}

TEST_F(GatewayServerTest, ListensOnAnIpv6Host) {
  auto fake = testing::FakeJinaServer::Start();
  ASSERT_TRUE(fake.ok()) << fake.status();
  fake_ = std::move(fake).value();
  std::vector<std::unique_ptr<routing::ReplicaSet>> shards;
  shards.push_back(std::make_unique<routing::ReplicaSet>(
      std::vector<routing::Address>{routing::Address{.host = "127.0.0.1", .port = fake_->port()}},
      routing::ReplicaSet::Options{.name = "echo"}));
  router_ = std::make_unique<routing::DeploymentRouter>(
      routing::DeploymentRouter::Options{.name = "echo", .retries = 0}, std::move(shards));
  gateway_ = std::make_unique<Gateway>(std::vector<routing::DeploymentRouter*>{router_.get()});
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  auto server = GatewayServer::Start(gateway_.get(), {.host = "::1"});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(server).value();
  auto stub = jina::JinaRPC::NewStub(grpc::CreateChannel("[::1]:" + std::to_string(server_->port()),
                                                         grpc::InsecureChannelCredentials()));
  std::string description;
  EXPECT_TRUE(SendOne(*stub, &description).ok());
  EXPECT_EQ(description, "");
}

}  // namespace
}  // namespace shoal::gateway
