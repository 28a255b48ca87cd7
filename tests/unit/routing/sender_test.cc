// routing::Send in process, over fake replicas: which replica gets each attempt, when a failure
// is retried (and when it is an answer), the rounds over the replicas, the caller's deadline,
// how writes follow a stateful shard's leader, and replicas in the router's own process.
#include "src/routing/sender.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.pb.h"
#include "src/routing/local_replica.h"
#include "src/routing/replica_set.h"
#include "tests/testing/fake_jina_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/unused_port.h"

namespace shoal::routing {
namespace {

using ::shoal::testing::FakeJinaServer;
using ::shoal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kQueueFull[] = "replica queue is full: 4 requests waiting (max_queued_requests)";

grpc::ByteBuffer Request(const std::string& id, const std::string& endpoint = "/index") {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(id);
  request.mutable_header()->set_exec_endpoint(endpoint);
  std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string RequestId(const grpc::ByteBuffer& response) {
  grpc::Slice slice;
  jina::DataRequestProto proto;
  if (!response.DumpToSingleSlice(&slice).ok() ||
      !proto.ParseFromArray(slice.begin(), static_cast<int>(slice.size()))) {
    return "<unparsable>";
  }
  return proto.header().request_id();
}

// Sends and waits (bounded) for `done`.
SendResult SendAndWait(ReplicaSet& set, grpc::ByteBuffer request, SendOptions options) {
  absl::Notification done;
  SendResult result;
  Send(set, std::move(request), std::move(options), [&](SendResult r) {
    result = std::move(r);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    ADD_FAILURE() << "Send did not call done within 30 s";
    std::abort();  // `done` still refers to this frame
  }
  return result;
}

class SenderTest : public ::testing::Test {
 protected:
  // Starts `n` fake replicas named rep-0, rep-1, ... and a set over them.
  void StartReplicas(int n) {
    std::vector<Address> addresses;
    for (int i = 0; i < n; ++i) {
      auto fake = FakeJinaServer::Start();
      ASSERT_TRUE(fake.ok()) << fake.status();
      addresses.push_back(Address{
          .host = "127.0.0.1", .port = (*fake)->port(), .name = "rep-" + std::to_string(i)});
      fakes_.push_back(std::move(fake).value());
    }
    set_ = std::make_unique<ReplicaSet>(
        addresses, ReplicaSet::Options{.name = "dep", .probe_interval = absl::Hours(1)});
  }

  static SendOptions Attempts(int attempts, const std::string& endpoint = "") {
    SendOptions options;
    options.attempts = attempts;
    options.endpoint = endpoint;
    return options;
  }

  int Calls() const {
    int total = 0;
    for (const auto& fake : fakes_) total += fake->calls();
    return total;
  }

  std::vector<std::unique_ptr<FakeJinaServer>> fakes_;
  std::unique_ptr<ReplicaSet> set_;  // declared after the fakes: goes first
};

TEST_F(SenderTest, AnAnswerOnTheFirstAttemptIsTheResult) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(1));
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(3));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.replica, "rep-0");
  EXPECT_EQ(RequestId(result.response), "r1");
  EXPECT_FALSE(result.is_error());
}

TEST_F(SenderTest, AnUnavailableReplicaIsRetriedOnTheOtherOne) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2));
  // Each fails once: whichever is tried first, the second attempt goes to the other replica
  // (not the same one again), and the error names both.
  fakes_[0]->FailNextCalls(1);
  fakes_[1]->FailNextCalls(1);
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(2));
  EXPECT_THAT(result.status,
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("dep: 2 attempt(s) failed"), HasSubstr("rep-0"),
                             HasSubstr("rep-1"), HasSubstr("fake: unavailable"))));
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(fakes_[0]->calls(), 1);
  EXPECT_EQ(fakes_[1]->calls(), 1);
}

TEST_F(SenderTest, OnceEveryReplicaFailedAnotherRoundStartsWhileAttemptsRemain) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2));
  fakes_[0]->FailNextCalls(2);
  fakes_[1]->FailNextCalls(2);
  // Rounds of two attempts: the fifth attempt finds a replica that answers.
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(5));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.attempts, 5);
  EXPECT_EQ(Calls(), 5);
  EXPECT_EQ(RequestId(result.response), "r1");
}

TEST_F(SenderTest, TheAttemptBudgetBoundsTheRounds) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(1));
  fakes_[0]->FailNextCalls(100);
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(3));
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kUnavailable,
                                      HasSubstr("dep: 3 attempt(s) failed (tried rep-0, rep-0, "
                                                "rep-0)")));
  EXPECT_EQ(fakes_[0]->calls(), 3);
}

TEST_F(SenderTest, NoRoundStartsWhenItsPauseWouldPassTheDeadline) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(1));
  fakes_[0]->FailNextCalls(100);
  SendOptions options = Attempts(10);
  // Rounds start after pauses of 100, 200, 400, ... ms: the one after the third attempt (at
  // about 300 ms) would end past the deadline, so Send stops there with the last error
  // instead of using its ten attempts or waiting for the deadline.
  options.deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(500);
  SendResult result = SendAndWait(*set_, Request("r1"), std::move(options));
  EXPECT_THAT(result.status,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("attempt(s) failed")));
  EXPECT_GE(fakes_[0]->calls(), 1);
  EXPECT_LE(fakes_[0]->calls(), 3);
  EXPECT_EQ(result.attempts, fakes_[0]->calls());
}

TEST_F(SenderTest, AnAttemptPastItsOwnTimeoutIsRetried) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(1));
  std::atomic<int> seen{0};
  // The first request is answered after 600 ms (before the fake's shutdown), later ones at once.
  fakes_[0]->SetDelay([&seen](const jina::DataRequestProto&) {
    return seen.fetch_add(1) == 0 ? absl::Milliseconds(600) : absl::ZeroDuration();
  });
  SendOptions options = Attempts(2);
  options.timeout = std::chrono::milliseconds(200);
  SendResult result = SendAndWait(*set_, Request("r1"), std::move(options));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.attempts, 2);
}

TEST_F(SenderTest, TheCallersDeadlineEndsTheCallWithoutRetry) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2));
  for (auto& fake : fakes_) {
    fake->SetDelay([](const jina::DataRequestProto&) { return absl::Milliseconds(600); });
  }
  SendOptions options = Attempts(4);
  options.deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(200);
  SendResult result = SendAndWait(*set_, Request("r1"), std::move(options));
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("dep")));
  EXPECT_EQ(result.attempts, 1);
}

TEST_F(SenderTest, AFullQueueIsRetriedOnAnotherReplica) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(1));
  std::atomic<int> seen{0};
  fakes_[0]->SetAnswer([&seen](const jina::DataRequestProto&, jina::DataRequestProto*) {
    return seen.fetch_add(1) == 0 ? grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kQueueFull)
                                  : grpc::Status::OK;
  });
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(2));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.attempts, 2);
}

TEST_F(SenderTest, ARequestOverALimitIsNotRetried) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2));
  for (auto& fake : fakes_) {
    fake->SetAnswer([](const jina::DataRequestProto&, jina::DataRequestProto*) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "3 docs, more than max_docs_per_request (2)");
    });
  }
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(4));
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kResourceExhausted,
                                      AllOf(HasSubstr("dep replica rep-"),
                                            HasSubstr("more than max_docs_per_request (2)"))));
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(Calls(), 1);
}

TEST_F(SenderTest, AnExecutorErrorIsAnAnswerNotRetried) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2));
  for (auto& fake : fakes_) fake->SetExecutorError("ValueError", "bad doc");
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(4));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_TRUE(result.is_error());
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(Calls(), 1);
}

TEST_F(SenderTest, NoReplicaToSendToIsUnavailable) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(0));
  SendResult result = SendAndWait(*set_, Request("r1"), Attempts(3));
  EXPECT_THAT(result.status,
              StatusIs(absl::StatusCode::kUnavailable, "dep: no replica to send to"));
  EXPECT_EQ(result.attempts, 0);
}

// A stateful shard: replica `leader` takes writes; the others refuse them as followers.
class LeaderTest : public SenderTest {
 protected:
  void SetLeader(int leader) {
    for (int i = 0; i < static_cast<int>(fakes_.size()); ++i) {
      if (i == leader) {
        fakes_[i]->SetAnswer(nullptr);
        continue;
      }
      std::string address = fakes_[leader]->address();
      fakes_[i]->SetAnswer([address](const jina::DataRequestProto&, jina::DataRequestProto*) {
        return FakeJinaServer::NotTheLeader(address);
      });
    }
  }
  std::vector<int> CallsPerReplica() const {
    std::vector<int> calls;
    for (const auto& fake : fakes_) calls.push_back(fake->calls());
    return calls;
  }
};

TEST_F(LeaderTest, WritesGoToTheReplicaThatTookTheLastOne) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(3));
  SetLeader(2);
  SendResult first = SendAndWait(*set_, Request("w0"), Attempts(4, "/index"));
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.replica, "rep-2");

  // The next writes go straight to the leader: the followers see none of them.
  std::vector<int> before = CallsPerReplica();
  for (int i = 1; i <= 5; ++i) {
    SendResult write = SendAndWait(*set_, Request("w" + std::to_string(i)), Attempts(4, "/index"));
    ASSERT_TRUE(write.status.ok()) << write.status.error_message();
    EXPECT_EQ(write.replica, "rep-2");
    EXPECT_EQ(write.attempts, 1);
  }
  std::vector<int> after = CallsPerReplica();
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
  EXPECT_EQ(after[2], before[2] + 5);
}

TEST_F(LeaderTest, ANewLeaderIsFollowedOnceTheOldOneRefuses) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(3));
  SetLeader(2);
  ASSERT_TRUE(SendAndWait(*set_, Request("w0"), Attempts(4, "/index")).status.ok());
  SetLeader(0);
  SendResult moved = SendAndWait(*set_, Request("w1"), Attempts(4, "/index"));
  ASSERT_TRUE(moved.status.ok()) << moved.status.error_message();
  EXPECT_EQ(moved.replica, "rep-0");
  EXPECT_GE(moved.attempts, 2);  // the old leader refused first

  std::vector<int> before = CallsPerReplica();
  SendResult next = SendAndWait(*set_, Request("w2"), Attempts(4, "/index"));
  ASSERT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(next.replica, "rep-0");
  EXPECT_EQ(next.attempts, 1);
  std::vector<int> after = CallsPerReplica();
  EXPECT_EQ(after[1], before[1]);
  EXPECT_EQ(after[2], before[2]);
}

TEST_F(LeaderTest, AFollowersRefusalDoesNotEjectIt) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2));
  SetLeader(1);
  fakes_[1]->FailNextCalls(100);  // the leader is down; the follower only refuses
  SendResult result = SendAndWait(*set_, Request("w0"), Attempts(2, "/index"));
  EXPECT_THAT(result.status,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("dep: 2 attempt(s) failed")));
  for (const ReplicaStats& stats : set_->Stats()) {
    if (stats.address == "grpc://" + fakes_[0]->address()) {
      EXPECT_TRUE(stats.healthy) << "a follower's refusal ejected it";
    } else {
      EXPECT_FALSE(stats.healthy) << "an unavailable replica stayed healthy";
    }
  }
}

TEST_F(LeaderTest, OtherEndpointsAreNotPinnedToTheLeader) {
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2));
  SetLeader(1);
  ASSERT_TRUE(SendAndWait(*set_, Request("w0"), Attempts(4, "/index")).status.ok());
  for (auto& fake : fakes_) fake->SetAnswer(nullptr);  // reads are served by every replica
  std::vector<int> before = CallsPerReplica();
  // Sequential reads on another endpoint are balanced over both replicas (least loaded, ties
  // broken at random): within 40 some reach the non-leader.
  for (int i = 0; i < 40 && fakes_[0]->calls() == before[0]; ++i) {
    ASSERT_TRUE(
        SendAndWait(*set_, Request("r" + std::to_string(i), "/search"), Attempts(1, "/search"))
            .status.ok());
  }
  EXPECT_GT(fakes_[0]->calls(), before[0]);
}

}  // namespace
}  // namespace shoal::routing

namespace shoal::routing {
namespace {

// A replica in this process: answers with the request itself, or fails as told.
class FakeLocal : public LocalReplica {
 public:
  void Call(const grpc::ByteBuffer& request, std::chrono::system_clock::time_point deadline,
            std::function<bool()> gone, Done done) override {
    ++calls;
    Answer answer;
    answer.status = status;
    if (status.ok()) answer.response = request;
    answer.is_error = is_error;
    done(std::move(answer));  // before Call returns, as a cheap call inline does
  }
  std::atomic<int> calls{0};
  grpc::Status status;
  bool is_error = false;
};

TEST(LocalReplicaTest, UnaryRequestsGoToTheReplicaInProcessWithoutGrpc) {
  auto local = std::make_shared<FakeLocal>();
  // Nothing listens at the address: a gRPC call there would fail.
  ReplicaSet set(
      {Address{
          .host = "127.0.0.1", .port = testing::UnusedPort(), .name = "rep-0", .local = local}},
      ReplicaSet::Options{.name = "dep", .probe_interval = absl::Hours(1)});
  SendResult result = SendAndWait(set, Request("r0"), SendOptions{.attempts = 1});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(RequestId(result.response), "r0");
  EXPECT_EQ(local->calls, 1);

  local->is_error = true;
  result = SendAndWait(set, Request("r1"), SendOptions{.attempts = 3});
  EXPECT_TRUE(result.is_error());
  EXPECT_EQ(local->calls, 2);  // an Executor error is an answer, not retried
}

TEST(LocalReplicaTest, AReplicaInProcessThatIsShuttingDownIsRetriedOnAnother) {
  auto stopping = std::make_shared<FakeLocal>();
  stopping->status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the replica is shutting down");
  auto serving = std::make_shared<FakeLocal>();
  ReplicaSet set(
      {Address{
           .host = "127.0.0.1", .port = testing::UnusedPort(), .name = "rep-0", .local = stopping},
       Address{
           .host = "127.0.0.1", .port = testing::UnusedPort(), .name = "rep-1", .local = serving}},
      ReplicaSet::Options{.name = "dep", .probe_interval = absl::Hours(1)});
  for (int i = 0; i < 4; ++i) {
    SendResult result =
        SendAndWait(set, Request("r" + std::to_string(i)), SendOptions{.attempts = 2});
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  }
  EXPECT_EQ(serving->calls, 4);
  EXPECT_LE(stopping->calls, 1);  // ejected after its first failure
}

}  // namespace
}  // namespace shoal::routing
