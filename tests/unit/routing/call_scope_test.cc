// Requests routed for a client's Call stream, in process: they travel as messages of one Call
// stream per replica, each answer goes to its own request whatever the order, Executor errors
// stay per message, a stream that fails midway has what it had not answered resent elsewhere,
// timeout_send bounds a message's wait, and cancelling the client call cancels the streams and
// unary calls made for it.
#include "src/routing/call_scope.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "src/routing/replica_set.h"
#include "src/routing/sender.h"
#include "src/rpc/leader.h"
#include "tests/testing/fake_jina_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait.h"

namespace shoal::routing {
namespace {

using ::shoal::testing::FakeJinaServer;
using ::shoal::testing::StatusIs;
using ::testing::UnorderedElementsAre;

grpc::ByteBuffer Request(const std::string& id) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(id);
  request.mutable_header()->set_exec_endpoint("/x");
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

// Results of several Sends, collected as they come; Wait is bounded.
class Results {
 public:
  absl::AnyInvocable<void(SendResult)> Slot(const std::string& id) {
    return [this, id](SendResult result) {
      absl::MutexLock lock(&mu_);
      results_[id] = std::move(result);
    };
  }
  // Waits for `n` results; aborts the test binary if they do not come (callbacks refer to us).
  std::map<std::string, SendResult> Wait(size_t n) {
    absl::MutexLock lock(&mu_);
    auto all = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return results_.size() >= n; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30))) {
      ADD_FAILURE() << "only " << results_.size() << " of " << n << " answers within 30 s";
      std::abort();
    }
    return results_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, SendResult> results_ ABSL_GUARDED_BY(mu_);
};

// A replica whose Call stream reads `reads` messages, answers the first (an echo), then ends the
// stream with `end`, as a replica that dies midway (UNAVAILABLE) or refuses one of them. Its
// unary process_single_data echoes, but refuses the request "bad" INVALID_ARGUMENT.
class BreakingReplica final : public jina::JinaRPC::CallbackService {
 public:
  // `not_leader`: the end carries the "not the leader" mark (rpc/leader.h), as a stateful
  // shard's follower refuses a write.
  BreakingReplica(int reads, grpc::Status end, bool not_leader = false)
      : reads_(reads), end_(std::move(end)), not_leader_(not_leader) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    builder.RegisterService(&unary_);
    server_ = builder.BuildAndStart();
  }
  ~BreakingReplica() override { server_->Shutdown(); }
  int port() const { return port_; }
  std::vector<std::string> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  int unary_calls() const { return unary_.calls.load(); }

  grpc::ServerBidiReactor<jina::DataRequestProto, jina::DataRequestProto>* Call(
      grpc::CallbackServerContext* context) override {
    if (not_leader_) context->AddTrailingMetadata(rpc::kLeaderKey, "");
    return new Stream(this);
  }

 private:
  class Stream final
      : public grpc::ServerBidiReactor<jina::DataRequestProto, jina::DataRequestProto> {
   public:
    explicit Stream(BreakingReplica* replica) : replica_(replica) { StartRead(&incoming_); }
    void OnReadDone(bool ok) override {
      if (!ok) return;  // ended by Finish below
      {
        absl::MutexLock lock(&replica_->mu_);
        replica_->seen_.push_back(incoming_.header().request_id());
      }
      if (++read_ == 1) first_ = incoming_;
      if (read_ < replica_->reads_) {
        StartRead(&incoming_);
        return;
      }
      StartWrite(&first_);
    }
    void OnWriteDone(bool) override { Finish(replica_->end_); }
    void OnDone() override { delete this; }

   private:
    BreakingReplica* const replica_;
    jina::DataRequestProto incoming_;
    jina::DataRequestProto first_;
    int read_ = 0;
  };

  struct Unary final : public jina::JinaSingleDataRequestRPC::CallbackService {
    grpc::ServerUnaryReactor* process_single_data(grpc::CallbackServerContext* context,
                                                  const jina::DataRequestProto* request,
                                                  jina::DataRequestProto* response) override {
      calls.fetch_add(1);
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (request->header().request_id() == "bad") {
        reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request"));
      } else {
        *response = *request;
        reactor->Finish(grpc::Status::OK);
      }
      return reactor;
    }
    std::atomic<int> calls{0};
  };

  const int reads_;
  const grpc::Status end_;
  const bool not_leader_;
  Unary unary_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  mutable absl::Mutex mu_;
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

class CallScopeTest : public ::testing::Test {
 protected:
  void StartFakes(int n) {
    for (int i = 0; i < n; ++i) {
      auto fake = FakeJinaServer::Start();
      ASSERT_TRUE(fake.ok()) << fake.status();
      addresses_.push_back(Address{
          .host = "127.0.0.1", .port = (*fake)->port(), .name = "rep-" + std::to_string(i)});
      fakes_.push_back(std::move(fake).value());
    }
  }
  void MakeSet() {
    set_ = std::make_unique<ReplicaSet>(
        addresses_, ReplicaSet::Options{.name = "dep", .probe_interval = absl::Hours(1)});
  }
  SendOptions Options(int attempts = 4) const {
    SendOptions options;
    options.attempts = attempts;
    options.scope = scope_;
    return options;
  }

  std::vector<Address> addresses_;
  std::vector<std::unique_ptr<FakeJinaServer>> fakes_;
  std::unique_ptr<ReplicaSet> set_;  // declared after the fakes: goes first
  std::shared_ptr<CallScope> scope_ =
      std::make_shared<CallScope>(CallScope::Options{.streams = true});
};

TEST_F(CallScopeTest, MessagesTravelOverOneStreamPerReplica) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(2));
  MakeSet();
  Results results;
  for (int i = 0; i < 16; ++i) {
    const std::string id = "r" + std::to_string(i);
    Send(*set_, Request(id), Options(), results.Slot(id));
  }
  std::map<std::string, SendResult> answers = results.Wait(16);
  for (auto& [id, result] : answers) {
    EXPECT_TRUE(result.status.ok()) << id << ": " << result.status.error_message();
    EXPECT_EQ(RequestId(result.response), id);
    EXPECT_FALSE(result.is_error());
  }
  size_t requests = 0;
  for (auto& fake : fakes_) {
    requests += fake->requests().size();
    // One Call stream to each replica used, not a unary call per message.
    EXPECT_EQ(fake->calls(), fake->requests().empty() ? 0 : 1);
  }
  EXPECT_EQ(requests, 16u);
}

TEST_F(CallScopeTest, EachAnswerGoesToItsOwnRequestWhateverTheOrder) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));
  MakeSet();
  // The first request is answered after the others.
  fakes_[0]->SetDelay([](const jina::DataRequestProto& request) {
    return request.header().request_id() == "r0" ? absl::Milliseconds(300) : absl::ZeroDuration();
  });
  Results results;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "r" + std::to_string(i);
    Send(*set_, Request(id), Options(), results.Slot(id));
  }
  for (auto& [id, result] : results.Wait(5)) {
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(RequestId(result.response), id);
  }
  EXPECT_EQ(fakes_[0]->calls(), 1);
}

TEST_F(CallScopeTest, AnExecutorErrorIsThatMessagesAnswer) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));
  MakeSet();
  fakes_[0]->SetExecutorError("ValueError", "bad doc");
  fakes_[0]->SetErrorFilter(
      [](const jina::DataRequestProto& r) { return r.header().request_id() == "bad"; });
  Results results;
  Send(*set_, Request("bad"), Options(), results.Slot("bad"));
  Send(*set_, Request("good"), Options(), results.Slot("good"));
  std::map<std::string, SendResult> answers = results.Wait(2);
  EXPECT_TRUE(answers["bad"].status.ok());
  EXPECT_TRUE(answers["bad"].is_error());
  EXPECT_EQ(answers["bad"].attempts, 1);  // an answer, not retried
  EXPECT_TRUE(answers["good"].status.ok());
  EXPECT_FALSE(answers["good"].is_error());
}

TEST_F(CallScopeTest, AStreamThatFailsMidwayHasWhatItHadNotAnsweredResentElsewhere) {
  BreakingReplica breaking(3, grpc::Status(grpc::StatusCode::UNAVAILABLE, "replica went away"));
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));
  addresses_.insert(addresses_.begin(),
                    Address{.host = "127.0.0.1", .port = breaking.port(), .name = "breaking"});
  MakeSet();
  set_->SetHealthy(1, false);  // every message goes to the breaking replica first
  Results results;
  for (const std::string id : {"r0", "r1", "r2"}) {
    Send(*set_, Request(id), Options(), results.Slot(id));
  }
  std::map<std::string, SendResult> answers = results.Wait(3);
  for (auto& [id, result] : answers) {
    ASSERT_TRUE(result.status.ok()) << id << ": " << result.status.error_message();
    EXPECT_EQ(RequestId(result.response), id);
  }
  EXPECT_THAT(breaking.seen(), UnorderedElementsAre("r0", "r1", "r2"));
  // The breaking replica answered one; the two it had not answered, and only they, went again.
  std::vector<std::string> resent;
  for (const auto& request : fakes_[0]->requests()) resent.push_back(request.header().request_id());
  EXPECT_EQ(resent.size(), 2u);
  EXPECT_EQ(answers[breaking.seen()[0]].replica, "breaking");
  for (const std::string& id : resent) EXPECT_EQ(answers[id].replica, "rep-0") << id;
  EXPECT_EQ(breaking.unary_calls(), 0);
}

TEST_F(CallScopeTest, AFollowerThatRefusesEndsItsStreamAndTheRestGoesToTheLeader) {
  BreakingReplica follower(2, grpc::Status(grpc::StatusCode::UNAVAILABLE, "not the leader"),
                           /*not_leader=*/true);
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));  // rep-0: the leader
  addresses_.insert(addresses_.begin(),
                    Address{.host = "127.0.0.1", .port = follower.port(), .name = "follower"});
  MakeSet();
  set_->SetHealthy(1, false);  // the follower is tried first
  Results results;
  for (const std::string id : {"w0", "w1"}) {
    SendOptions options = Options();
    options.endpoint = "/index";
    Send(*set_, Request(id), std::move(options), results.Slot(id));
  }
  std::map<std::string, SendResult> answers = results.Wait(2);
  for (auto& [id, result] : answers) {
    ASSERT_TRUE(result.status.ok()) << id << ": " << result.status.error_message();
    EXPECT_EQ(RequestId(result.response), id);
  }
  // The one the follower had not answered went to the leader; the follower was not ejected.
  EXPECT_EQ(fakes_[0]->requests().size(), 1u);
  EXPECT_TRUE(set_->Stats()[0].healthy);
  EXPECT_EQ(set_->Stats()[0].ejections, 0u);
}

TEST_F(CallScopeTest, AStreamEndingWithAnErrorOfNoKnownMessageHasTheRestSentOneByOne) {
  // The stream's INVALID_ARGUMENT may be any unanswered message's: each goes again as a unary
  // call, to the same replica, which answers it for itself.
  BreakingReplica breaking(3, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request"));
  addresses_.push_back(Address{.host = "127.0.0.1", .port = breaking.port(), .name = "breaking"});
  MakeSet();
  Results results;
  for (const std::string id : {"good-0", "bad", "good-2"}) {
    Send(*set_, Request(id), Options(), results.Slot(id));
  }
  std::map<std::string, SendResult> answers = results.Wait(3);
  ASSERT_EQ(breaking.seen().size(), 3u);
  const std::string answered = breaking.seen()[0];
  for (auto& [id, result] : answers) {
    if (id == "bad" && answered != "bad") {
      EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    } else {
      ASSERT_TRUE(result.status.ok()) << id << ": " << result.status.error_message();
      EXPECT_EQ(RequestId(result.response), id);
    }
    EXPECT_EQ(result.attempts, 1) << id;
  }
  EXPECT_EQ(breaking.unary_calls(), 2);
}

TEST_F(CallScopeTest, AMessagePastTimeoutSendGoesToAnotherReplica) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(2));
  MakeSet();
  set_->SetHealthy(1, false);  // the first attempt goes to rep-0, which holds every answer
  fakes_[0]->SetHoldUntil(1000);
  SendOptions options = Options(2);
  options.timeout = std::chrono::milliseconds(200);
  Results results;
  Send(*set_, Request("r0"), std::move(options), results.Slot("r0"));
  SendResult result = results.Wait(1)["r0"];
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(result.replica, "rep-1");
  EXPECT_EQ(RequestId(result.response), "r0");
}

TEST_F(CallScopeTest, CancellingTheScopeCancelsItsStreams) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));
  MakeSet();
  fakes_[0]->SetHoldUntil(1000);  // nothing is answered unless cancelled
  Results results;
  Send(*set_, Request("r0"), Options(), results.Slot("r0"));
  Send(*set_, Request("r1"), Options(), results.Slot("r1"));
  ASSERT_TRUE(testing::WaitFor([&] { return fakes_[0]->requests().size() == 2; }));
  scope_->Cancel();
  for (auto& [id, result] : results.Wait(2)) {
    EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kCancelled, ::testing::_)) << id;
    EXPECT_EQ(result.attempts, 1) << id;  // not retried
  }
  // Later requests of the cancelled call are not sent at all.
  Send(*set_, Request("r2"), Options(), results.Slot("r2"));
  EXPECT_THAT(results.Wait(3)["r2"].status, StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  EXPECT_EQ(fakes_[0]->requests().size(), 2u);
}

TEST_F(CallScopeTest, AStreamEndsAtTheClientCallsDeadline) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));
  MakeSet();
  fakes_[0]->SetHoldUntil(1000);  // nothing is answered
  scope_ = std::make_shared<CallScope>(CallScope::Options{
      .streams = true,
      .deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(200)});
  Results results;
  Send(*set_, Request("r0"), Options(), results.Slot("r0"));  // no deadline of its own
  EXPECT_THAT(results.Wait(1)["r0"].status,
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
}

TEST_F(CallScopeTest, CancellingAUnaryScopeCancelsItsCalls) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));
  MakeSet();
  fakes_[0]->SetHoldUntil(1000);
  scope_ = std::make_shared<CallScope>(CallScope::Options{.streams = false});
  Results results;
  Send(*set_, Request("r0"), Options(), results.Slot("r0"));
  ASSERT_TRUE(testing::WaitFor([&] { return fakes_[0]->requests().size() == 1; }));
  scope_->Cancel();
  EXPECT_THAT(results.Wait(1)["r0"].status, StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  EXPECT_EQ(fakes_[0]->calls(), 1);  // a unary call, not a stream
}

TEST_F(CallScopeTest, TheLastHolderHalfClosesTheStreams) {
  ASSERT_NO_FATAL_FAILURE(StartFakes(1));
  MakeSet();
  Results results;
  Send(*set_, Request("r0"), Options(), results.Slot("r0"));
  ASSERT_TRUE(results.Wait(1)["r0"].status.ok());
  std::vector<std::shared_ptr<DownstreamStream>> streams = scope_->streams_for_test();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_TRUE(streams[0]->open());
  scope_.reset();
  EXPECT_FALSE(streams[0]->open());
  EXPECT_EQ(streams[0]->waiting(), 0u);
}

}  // namespace
}  // namespace shoal::routing
