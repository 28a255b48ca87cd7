// Real `shoal executor` processes on 127.0.0.1, driven by the C++ client and raw Jina stubs:
// serving, Executor errors, discovery, draining on SIGTERM, and bad input.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/client.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::unique_ptr<testing::ChildProcess> StartExecutor(std::vector<std::string> args) {
  std::vector<std::string> argv = {
      testing::ShoalBinary(), "executor", "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = testing::ChildProcess::Start(argv);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(child).value() : nullptr;
}

DocList TextDocs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text("doc-" + std::to_string(i));
  return docs;
}

jina::DataRequestProto MakeRequest(std::string_view endpoint, int docs) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id("req-1");
  request.mutable_header()->set_exec_endpoint(std::string(endpoint));
  DocList list(request.mutable_data()->mutable_docs());
  for (int i = 0; i < docs; ++i) list.Add().set_text("t" + std::to_string(i));
  return request;
}

TEST(ExecutorProcessTest, EchoAnswersOverStreamAndUnary) {
  auto replica = StartExecutor({"--uses", "Echo", "--name", "echo/rep-0"});
  ASSERT_NE(replica, nullptr);
  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok()) << client.status();
  for (bool stream : {true, false}) {
    auto docs = client->Post("/anything", TextDocs(25),
                             {.request_size = 10, .results_in_order = true, .stream = stream});
    ASSERT_TRUE(docs.ok()) << docs.status() << replica->Log();
    ASSERT_EQ(docs->size(), 25u);
    for (size_t i = 0; i < docs->size(); ++i) {
      EXPECT_EQ((*docs)[i].text(), "doc-" + std::to_string(i));
      EXPECT_EQ((*docs)[i].GetText("served_by"), "echo/rep-0");
    }
  }
  EXPECT_TRUE(client->Ping().ok());
}

TEST(ExecutorProcessTest, ExecutorErrorIsAJinaErrorResponseNotAGrpcError) {
  auto replica = StartExecutor({"--uses", "Fail"});
  ASSERT_NE(replica, nullptr);
  auto channel = grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials());
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(channel);
  jina::DataRequestProto request = MakeRequest("/foo", 2);
  (*request.mutable_parameters()->mutable_fields())["fail"].set_bool_value(true);
  jina::DataRequestProto response;
  grpc::ClientContext context;
  grpc::Status status = stub->process_single_data(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.header().status().code(), jina::StatusProto::ERROR);
  EXPECT_EQ(response.header().status().exception().executor(), "Fail");
  EXPECT_FALSE(response.header().status().exception().name().empty());
  EXPECT_FALSE(response.header().status().description().empty());
  auto trailing = context.GetServerTrailingMetadata();
  auto it = trailing.find("is-error");
  ASSERT_NE(it, trailing.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "true");

  // Without the flag the same Executor answers normally, with no is-error trailer.
  jina::DataRequestProto ok_request = MakeRequest("/foo", 2);
  jina::DataRequestProto ok_response;
  grpc::ClientContext ok_context;
  ASSERT_TRUE(stub->process_single_data(&ok_context, ok_request, &ok_response).ok());
  EXPECT_EQ(ok_response.header().status().code(), jina::StatusProto::SUCCESS);
  EXPECT_EQ(ok_context.GetServerTrailingMetadata().count("is-error"), 0u);

  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok());
  auto params = Params::FromJson(R"({"fail": true})");
  auto failed = client->Post("/foo", TextDocs(3), {.parameters = *params});
  EXPECT_FALSE(failed.ok());
  int errors = 0;
  auto handled = client->Post(
      "/foo", TextDocs(3),
      {.parameters = *params, .on_error = [&](const Response& r) { errors += !r.ok(); }});
  EXPECT_TRUE(handled.ok()) << handled.status();
  EXPECT_EQ(errors, 1);
}

// With --max-queued-requests, requests beyond the limit are refused at once with
// RESOURCE_EXHAUSTED naming the replica (a router then tries another replica).
TEST(ExecutorProcessTest, AFullQueueRefusesRequests) {
  auto replica = StartExecutor({"--uses", "Sleep", "--uses-with", R"({"ms": 500})", "--name",
                                "full/rep-0", "--max-queued-requests", "1"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  std::vector<grpc::Status> statuses(3);
  std::vector<std::thread> senders;
  for (int i = 0; i < 3; ++i) {
    senders.emplace_back([&, i] {
      jina::DataRequestProto request = MakeRequest("/sleep", 1), response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      statuses[i] = stub->process_single_data(&context, request, &response);
    });
  }
  for (std::thread& sender : senders) sender.join();
  int ok = 0, refused = 0;
  for (const grpc::Status& status : statuses) {
    if (status.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_THAT(status.error_message(), HasSubstr("'full/rep-0' has 1 requests queued"));
      ++refused;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 1);
}

// A request whose deadline passes while it waits behind a long one is dropped before the Executor
// runs it, and counted (shoal_replica_dropped_total; `dropped_requests` in _status).
TEST(ExecutorProcessTest, AQueuedRequestWhoseDeadlinePassedIsDroppedUnrun) {
  auto replica = StartExecutor({"--uses", "Sleep", "--uses-with", R"({"ms": 1500})"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  grpc::Status long_status;
  std::thread long_sender([&] {
    jina::DataRequestProto request = MakeRequest("/sleep", 1), response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    long_status = stub->process_single_data(&context, request, &response);
  });
  // The long request runs: the next one has to wait for it.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::ReplicaInfo(replica->address())["processed_requests"] == "1"; }));
  jina::DataRequestProto request = MakeRequest("/sleep", 1), response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  EXPECT_EQ(stub->process_single_data(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  long_sender.join();
  EXPECT_TRUE(long_status.ok()) << long_status.error_message();
  EXPECT_TRUE(testing::WaitFor(
      [&] { return testing::ReplicaInfo(replica->address())["dropped_requests"] == "1"; }));
  EXPECT_EQ(testing::ReplicaInfo(replica->address())["processed_requests"], "1");
}

// A request that Sleep runs for a minute, and whose caller goes away, frees the replica: the
// Executor sees request_cancelled() and stops, so the next request is answered at once. Before,
// the next one waited behind the whole minute (its deadline, 20 s, passed).
class CancelledWhileRunningTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CancelledWhileRunningTest, TheExecutorStopsAndTheNextRequestIsServed) {
  auto replica = StartExecutor({"--uses", "Sleep", "--uses-with", R"({"ms": 60000})"});
  ASSERT_NE(replica, nullptr);
  auto channel = grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials());
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(channel);
  grpc::ClientContext long_context;
  grpc::Status long_status;
  std::thread long_sender;
  const std::string how = GetParam();
  if (how == "deadline") {
    long_context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  }
  if (how == "stream") {
    long_sender = std::thread([&] {
      auto stream = jina::JinaRPC::NewStub(channel)->Call(&long_context);
      stream->Write(MakeRequest("/sleep", 1));
      jina::DataRequestProto answer;
      while (stream->Read(&answer)) {
      }
      long_status = stream->Finish();
    });
  } else {
    long_sender = std::thread([&] {
      jina::DataRequestProto request = MakeRequest("/sleep", 1), response;
      long_status = stub->process_single_data(&long_context, request, &response);
    });
  }
  // The long request runs; then its caller goes (cancel, or its deadline passes).
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::ReplicaInfo(replica->address())["processed_requests"] == "1"; }));
  if (how != "deadline") long_context.TryCancel();
  long_sender.join();
  EXPECT_FALSE(long_status.ok());

  jina::DataRequestProto request = MakeRequest("/sleep", 1), response;
  auto* ms = request.mutable_parameters()->mutable_fields();
  (*ms)["ms"].set_number_value(0);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Status status = stub->process_single_data(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(testing::ReplicaInfo(replica->address())["processed_requests"], "2");
}

INSTANTIATE_TEST_SUITE_P(Callers, CancelledWhileRunningTest,
                         ::testing::Values("unary", "deadline", "stream"));

TEST(ExecutorProcessTest, EndpointDiscoveryListsWriteEndpoints) {
  auto replica = StartExecutor({"--uses", "Counter"});
  ASSERT_NE(replica, nullptr);
  auto channel = grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials());
  auto stub = jina::JinaDiscoverEndpointsRPC::NewStub(channel);
  google::protobuf::Empty empty;
  jina::EndpointsProto endpoints;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->endpoint_discovery(&context, empty, &endpoints).ok());
  EXPECT_THAT(endpoints.endpoints(), UnorderedElementsAre("/index", "/count", "_jina_dry_run_"));
  EXPECT_THAT(endpoints.write_endpoints(), UnorderedElementsAre("/index"));
}

TEST(ExecutorProcessTest, CounterKeepsStateAcrossRequests) {
  auto replica = StartExecutor({"--uses", "Counter", "--name", "c/rep-0"});
  ASSERT_NE(replica, nullptr);
  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client->Post("/index", TextDocs(42), {.request_size = 5}).ok());
  auto count = client->Post("/count", DocList());
  ASSERT_TRUE(count.ok()) << count.status();
  ASSERT_EQ(count->size(), 1u);
  EXPECT_EQ((*count)[0].text(), "42");
}

TEST(ExecutorProcessTest, ProcessDataSeesEveryPart) {
  auto replica = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(replica, nullptr);
  auto channel = grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials());
  auto stub = jina::JinaDataRequestRPC::NewStub(channel);
  jina::DataRequestListProto parts;
  *parts.add_requests() = MakeRequest("/x", 2);
  *parts.add_requests() = MakeRequest("/x", 3);
  jina::DataRequestProto response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->process_data(&context, parts, &response).ok());
  EXPECT_EQ(response.data().docs().docs_size(), 5);
}

TEST(ExecutorProcessTest, DocsBytesAreDecoded) {
  auto replica = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  jina::DataRequestProto request = MakeRequest("/x", 3);
  std::string bytes = request.data().docs().SerializeAsString();
  request.mutable_data()->set_docs_bytes(bytes);
  jina::DataRequestProto response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->process_single_data(&context, request, &response).ok());
  EXPECT_EQ(response.data().docs().docs_size(), 3);

  // Broken docs_bytes: a clear INVALID_ARGUMENT, and the replica keeps serving.
  request.mutable_data()->set_docs_bytes("\xff\xff\xff garbage");
  grpc::ClientContext bad_context;
  grpc::Status status = stub->process_single_data(&bad_context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("docs_bytes"));
  grpc::ClientContext again;
  EXPECT_TRUE(stub->process_single_data(&again, MakeRequest("/x", 1), &response).ok());
}

TEST(ExecutorProcessTest, DryRunPassesThroughWithoutRunningTheExecutor) {
  auto replica = StartExecutor({"--uses", "Fail", "--uses-with", R"({"always": true})"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  jina::DataRequestProto response;
  grpc::ClientContext context;
  ASSERT_TRUE(
      stub->process_single_data(&context, MakeRequest("_jina_dry_run_", 1), &response).ok());
  EXPECT_EQ(response.header().status().code(), jina::StatusProto::SUCCESS);
  EXPECT_EQ(testing::ReplicaInfo(replica->address())["processed_requests"], "0");
}

TEST(ExecutorProcessTest, ABrokenMessageEndsTheStreamAndTheReplicaKeepsServing) {
  auto replica = StartExecutor({"--uses", "Sleep", "--uses-with", R"({"ms": 20})"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  for (int round = 0; round < 5; ++round) {
    grpc::ClientContext context;
    auto stream = stub->Call(&context);
    ASSERT_TRUE(stream->Write(MakeRequest("/x", 1)));
    jina::DataRequestProto broken = MakeRequest("/x", 1);
    broken.mutable_data()->set_docs_bytes("\xff\xff garbage");
    ASSERT_TRUE(stream->Write(broken));
    for (int i = 0; i < 10; ++i) stream->Write(MakeRequest("/x", 1));  // may fail: stream ending
    stream->WritesDone();
    jina::DataRequestProto answer;
    while (stream->Read(&answer)) {
    }
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->Post("/x", TextDocs(1)).ok());
}

TEST(ExecutorProcessTest, MalformedRequestBytesDoNotCrashTheReplica) {
  auto replica = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(replica, nullptr);
  auto channel = grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  const char garbage[] = "\x0a\xff\xff\xff\xff\x0f not a protobuf";
  grpc::Slice slice(garbage, sizeof(garbage) - 1);
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
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(status.ok());
  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->Post("/x", TextDocs(1)).ok());
}

TEST(ExecutorProcessTest, SigtermDrainsInFlightRequestsAndExitsZero) {
  auto replica = StartExecutor({"--uses", "Sleep"});
  ASSERT_NE(replica, nullptr);
  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok());
  auto params = Params::FromJson(R"({"ms": 500})");
  StatusOr<DocList> result = absl::UnknownError("not run");
  std::thread post([&] { result = client->Post("/slow", TextDocs(2), {.parameters = *params}); });
  // Signal once the request is on the replica: its _status reports it pending.
  auto info_stub = jina::JinaInfoRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  bool pending = false;
  for (int i = 0; i < 500 && !pending; ++i) {
    google::protobuf::Empty empty;
    jina::JinaInfoProto info;
    grpc::ClientContext context;
    pending = info_stub->_status(&context, empty, &info).ok() &&
              info.jina().at("pending_requests") != "0";
  }
  ASSERT_TRUE(pending);
  replica->Signal(SIGTERM);
  post.join();
  EXPECT_TRUE(result.ok()) << result.status() << replica->Log();
  EXPECT_EQ(replica->Wait(std::chrono::seconds(20)), 0) << replica->Log();
  EXPECT_THAT(replica->Log(), HasSubstr("draining"));
}

TEST(ExecutorProcessTest, PortInUseIsAClearError) {
  auto first = StartExecutor({"--uses", "Echo"});
  ASSERT_NE(first, nullptr);
  auto second =
      testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo", "--host",
                                    "127.0.0.1", "--port", std::to_string(first->port())});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
}

TEST(ExecutorProcessTest, UnknownExecutorAndBadFlagsAreClearErrors) {
  auto unknown = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "executor", "--uses", "NoSuchExecutor", "--port", "0"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("NoSuchExecutor"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("Echo"));  // lists what exists

  auto missing_lib = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "executor", "--uses", "/nonexistent/libx.so", "--port", "0"});
  ASSERT_FALSE(missing_lib.ok());
  EXPECT_THAT(missing_lib.status().message(), HasSubstr("/nonexistent/libx.so"));

  auto bad_port = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "executor", "--uses", "Echo", "--port", "99999"});
  ASSERT_FALSE(bad_port.ok());
  EXPECT_THAT(bad_port.status().message(), HasSubstr("--port"));

  auto bad_json = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "executor", "--uses", "Echo", "--uses-with", "{oops"});
  ASSERT_FALSE(bad_json.ok());
  EXPECT_THAT(bad_json.status().message(), HasSubstr("--uses-with"));
}

TEST(ExecutorProcessTest, ExecutorYamlWithFileAndLineErrors) {
  const testing::TempDir tmp("yaml");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "good.yml") << "jtype: Sleep\nwith:\n  ms: 1\nmetas:\n  name: sleeper\n";
  std::ofstream(dir / "bad.yml") << "jtype: Sleep\nwith: [1, 2\n";
  auto good = StartExecutor({"--uses", (dir / "good.yml").string()});
  ASSERT_NE(good, nullptr);
  auto bad = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "executor", "--uses", (dir / "bad.yml").string(), "--port", "0"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("bad.yml:"));
}

}  // namespace
}  // namespace shoal
