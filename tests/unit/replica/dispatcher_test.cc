// Tests of the replica's dispatch policy without gRPC: a real runtime (the built-in Counter,
// whose /index is a write) and a fake replicated log that records what it was asked.
#include "src/replica/dispatcher.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "src/executor/loader.h"

namespace shoal::replica {
namespace {

class FakeLog : public ReplicatedLog {
 public:
  void Write(std::string request, absl::AnyInvocable<void(StatusOr<WriteAnswer>)> done) override {
    writes.push_back(std::move(request));
    jina::DataRequestProto answer;
    answer.mutable_header()->set_request_id("from the log");
    done(WriteAnswer{.bytes = answer.SerializeAsString()});
  }
  bool linearizable_reads() const override { return linearizable; }
  bool ReadLeaseHolds() override {
    ++lease_checks;
    return lease;
  }
  void ConfirmLeader(absl::AnyInvocable<void(Status)> done) override {
    ++confirmations;
    done(leader ? absl::OkStatus() : absl::UnavailableError("not the leader"));
  }

  bool linearizable = false;
  bool leader = true;
  bool lease = false;
  std::vector<std::string> writes;
  int confirmations = 0;
  int lease_checks = 0;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("Counter", Params());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    runtime_ = std::make_unique<ReplicaRuntime>(std::move(loaded).value(),
                                                ReplicaRuntime::Options{.name = "c/rep-0"});
  }

  static jina::DataRequestProto Request(const std::string& endpoint) {
    jina::DataRequestProto request;
    request.mutable_header()->set_request_id("r1");
    request.mutable_header()->set_exec_endpoint(endpoint);
    return request;
  }

  // Dispatches a request for `endpoint`; what happened to it.
  struct Outcome {
    bool served = false;
    bool answered = false;
    StatusOr<WriteAnswer> answer = absl::UnknownError("none");
  };
  Outcome Dispatch(ReplicatedLog* log, const std::string& endpoint) {
    Dispatcher dispatcher(runtime_.get(), log);
    Outcome outcome;
    dispatcher.Dispatch(
        Request(endpoint), [&outcome] { outcome.served = true; },
        [&outcome](StatusOr<WriteAnswer> answer) {
          outcome.answered = true;
          outcome.answer = std::move(answer);
        });
    return outcome;
  }

  std::unique_ptr<ReplicaRuntime> runtime_;
  FakeLog log_;
};

TEST_F(DispatcherTest, AStatelessReplicaServesEverythingItself) {
  for (const std::string endpoint : {"/index", "/count"}) {
    Outcome outcome = Dispatch(nullptr, endpoint);
    EXPECT_TRUE(outcome.served) << endpoint;
    EXPECT_FALSE(outcome.answered) << endpoint;
  }
  EXPECT_FALSE(Dispatcher(runtime_.get(), nullptr).Replicates("/index"));
}

TEST_F(DispatcherTest, AWriteGoesThroughTheLogWhichAnswersIt) {
  Outcome outcome = Dispatch(&log_, "/index");
  EXPECT_FALSE(outcome.served);
  ASSERT_TRUE(outcome.answered);
  ASSERT_TRUE(outcome.answer.ok()) << outcome.answer.status();
  jina::DataRequestProto answer;
  ASSERT_TRUE(answer.ParseFromString(outcome.answer->bytes));
  EXPECT_EQ(answer.header().request_id(), "from the log");
  ASSERT_EQ(log_.writes.size(), 1u);
  jina::DataRequestProto logged;
  ASSERT_TRUE(logged.ParseFromString(log_.writes[0]));
  EXPECT_EQ(logged.header().exec_endpoint(), "/index");
  EXPECT_TRUE(Dispatcher(runtime_.get(), &log_).Replicates("/index"));
  EXPECT_FALSE(Dispatcher(runtime_.get(), &log_).Replicates("/count"));
}

// The log gets the request's bytes as they arrived, not the parsed request serialized again;
// a read never asks for them.
TEST_F(DispatcherTest, AWriteGoesIntoTheLogAsTheBytesItArrivedAs) {
  Dispatcher dispatcher(runtime_.get(), &log_);
  int raw_calls = 0;
  auto raw = [&raw_calls] {
    ++raw_calls;
    return std::string("the bytes as they arrived");
  };
  bool answered = false;
  dispatcher.Dispatch(
      Request("/index"), raw, [] {}, [&answered](StatusOr<WriteAnswer>) { answered = true; });
  EXPECT_TRUE(answered);
  ASSERT_EQ(log_.writes.size(), 1u);
  EXPECT_EQ(log_.writes[0], "the bytes as they arrived");
  dispatcher.Dispatch(
      Request("/count"), raw, [] {}, [](StatusOr<WriteAnswer>) {});
  EXPECT_EQ(raw_calls, 1);
}

TEST_F(DispatcherTest, AReadIsServedLocallyWithoutLinearizableReads) {
  Outcome outcome = Dispatch(&log_, "/count");
  EXPECT_TRUE(outcome.served);
  EXPECT_FALSE(outcome.answered);
  EXPECT_EQ(log_.confirmations, 0);
  EXPECT_TRUE(log_.writes.empty());
}

TEST_F(DispatcherTest, ALinearizableReadIsServedOnceTheLeadershipIsConfirmed) {
  log_.linearizable = true;
  Outcome outcome = Dispatch(&log_, "/count");
  EXPECT_TRUE(outcome.served);
  EXPECT_FALSE(outcome.answered);
  EXPECT_EQ(log_.confirmations, 1);
}

TEST_F(DispatcherTest, ALinearizableReadRunsAtOnceWhileTheReadLeaseHolds) {
  log_.linearizable = true;
  log_.lease = true;
  Outcome outcome = Dispatch(&log_, "/count");
  EXPECT_TRUE(outcome.served);
  EXPECT_FALSE(outcome.answered);
  EXPECT_EQ(log_.lease_checks, 1);
  EXPECT_EQ(log_.confirmations, 0);
  // A write never asks the lease: it goes through the log.
  Dispatch(&log_, "/index");
  EXPECT_EQ(log_.lease_checks, 1);
  EXPECT_EQ(log_.writes.size(), 1u);
}

TEST_F(DispatcherTest, ALinearizableReadOnAFollowerIsAnsweredWithTheRefusal) {
  log_.linearizable = true;
  log_.leader = false;
  Outcome outcome = Dispatch(&log_, "/count");
  EXPECT_FALSE(outcome.served);
  ASSERT_TRUE(outcome.answered);
  EXPECT_EQ(outcome.answer.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(log_.writes.empty());
}

}  // namespace
}  // namespace shoal::replica
