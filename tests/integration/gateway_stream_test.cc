// A gateway in front of real replicas (a Flow on 127.0.0.1): a client's Call stream travels
// through a Flow of two Executors with replicas and comes back whole and in order, and a client
// that cancels a unary call or a Call stream, or whose stream's deadline passes, has its
// requests that wait on the replica dropped there instead of run.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/flow.h"
#include "tests/integration/child_process.h"
#include "tests/integration/flow_nodes.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using testing::Node;
using testing::Options;
using testing::ReplicaInfo;

// A request for the Sleep Executor that takes `ms` on the replica.
jina::DataRequestProto SleepRequest(const std::string& id, int ms) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(id);
  request.mutable_header()->set_exec_endpoint("/x");
  (*request.mutable_parameters()->mutable_fields())["ms"].set_number_value(ms);
  request.mutable_data()->mutable_docs()->add_docs();
  return request;
}

int64_t Count(const std::string& replica, const std::string& key) {
  return std::stoll(ReplicaInfo(replica)[key]);
}

// One Sleep replica behind a Flow's gateway, sent three requests of 3 s each: one runs, two wait.
class CancelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    flow_.Add(Node("slow", "Sleep"));
    ASSERT_TRUE(flow_.Start().ok());
    replica_ = flow_.replica_addresses("slow")[0][0];
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(flow_.port()),
                                   grpc::InsecureChannelCredentials());
  }

  // True once two requests wait on the replica behind the running one (pending_requests counts
  // the running one too).
  bool TwoWaiting() const {
    return testing::WaitFor([&] { return ReplicaInfo(replica_)["pending_requests"] == "3"; });
  }

  // Once the replica is idle again: how many of the three requests it dropped, after checking
  // that each was either run or dropped.
  int64_t DroppedOnceIdle() const {
    EXPECT_TRUE(testing::WaitFor([&] {
      return ReplicaInfo(replica_)["pending_requests"] == "0" &&
             Count(replica_, "processed_requests") >= 1;
    }));
    const int64_t processed = Count(replica_, "processed_requests");
    const int64_t dropped = Count(replica_, "dropped_requests");
    EXPECT_LE(processed + dropped, 3);
    return dropped;
  }

  Flow flow_{Options()};
  std::string replica_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CancelTest, ACancelledUnaryCallIsCancelledOnTheReplica) {
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(channel_);
  struct Call {
    grpc::ClientContext context;
    jina::DataRequestProto request;
    jina::DataRequestProto response;
    grpc::Status status;
    absl::Notification done;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 1; i <= 3; ++i) {
    auto call = std::make_unique<Call>();
    call->request = SleepRequest("r" + std::to_string(i), 3000);
    Call* c = call.get();
    stub->async()->process_single_data(&c->context, &c->request, &c->response,
                                       [c](grpc::Status status) {
                                         c->status = std::move(status);
                                         c->done.Notify();
                                       });
    calls.push_back(std::move(call));
    // r1 runs first; r2 and r3 wait behind it.
    if (i == 1) {
      ASSERT_TRUE(
          testing::WaitFor([&] { return ReplicaInfo(replica_)["pending_requests"] == "1"; }));
    }
  }
  ASSERT_TRUE(TwoWaiting());
  // The waiting ones are cancelled first: cancelling the running one first would free the
  // executor while their cancels may still be on the way, and one of them could start (to be
  // stopped early) instead of being dropped.
  for (int i : {1, 2, 0}) calls[i]->context.TryCancel();
  for (auto& call : calls) {
    ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_EQ(call->status.error_code(), grpc::StatusCode::CANCELLED);
  }
  // The cancel reached the replica: the waiting requests were dropped, not run.
  EXPECT_EQ(DroppedOnceIdle(), 2);
  EXPECT_EQ(Count(replica_, "processed_requests"), 1);
}

TEST_F(CancelTest, ACancelledCallStreamIsCancelledOnTheReplica) {
  auto stub = jina::JinaRPC::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = stub->Call(&context);
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(stream->Write(SleepRequest("r" + std::to_string(i), 3000)));
  ASSERT_TRUE(TwoWaiting());
  context.TryCancel();
  jina::DataRequestProto answer;
  while (stream->Read(&answer)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(DroppedOnceIdle(), 2);
  EXPECT_EQ(Count(replica_, "processed_requests"), 1);
}

TEST_F(CancelTest, ACallStreamsDeadlineTravelsToTheReplica) {
  auto stub = jina::JinaRPC::NewStub(channel_);
  grpc::ClientContext context;
  // Passes while the first request runs (3 s) and the others wait behind it.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
  auto stream = stub->Call(&context);
  for (int i = 1; i <= 3; ++i) {
    if (!stream->Write(SleepRequest("r" + std::to_string(i), 3000))) break;
  }
  jina::DataRequestProto answer;
  while (stream->Read(&answer)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GE(DroppedOnceIdle(), 2);
}

DocList Docs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text("doc-" + std::to_string(i));
  return docs;
}

int64_t Processed(const Flow& flow, const std::string& name) {
  int64_t total = 0;
  const std::vector<std::vector<std::string>> shards = flow.replica_addresses(name);
  for (const std::string& address : shards[0]) {
    total += Count(address, "processed_requests");
  }
  return total;
}

TEST(GatewayStreamTest, AStreamThroughTwoExecutorsWithReplicasComesBackWholeAndInOrder) {
  Flow flow(Options());
  DeploymentOptions first = Node("first", "Sleep");
  first.replicas = 2;
  first.uses_with = R"({"ms": 1})";
  DeploymentOptions second = Node("second", "Echo");
  second.replicas = 2;
  flow.Add(std::move(first)).Add(std::move(second));
  ASSERT_TRUE(flow.Start().ok());
  DocList sent = Docs(200);
  auto docs = flow.Post("/x", sent, {.request_size = 1, .prefetch = 32, .results_in_order = true});
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ((*docs)[i].id(), sent[i].id()) << i;
    EXPECT_EQ((*docs)[i].GetText("served_by").value_or("").substr(0, 11), "second/rep-") << i;
  }
  // Each request ran once on each Executor.
  EXPECT_EQ(Processed(flow, "first"), 200);
  EXPECT_EQ(Processed(flow, "second"), 200);
}

}  // namespace
}  // namespace shoal
