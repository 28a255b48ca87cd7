// ReplicaServer::CallDirect, the way a router in the same process reaches a replica: it answers
// as process_single_data does, checks the caller's deadline before the Executor runs, and a
// Shutdown answers every direct call (the running one finished, the queued ones refused) before
// it returns; none starts after it.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.pb.h"
#include "shoal/executor.h"
#include "src/executor/loader.h"
#include "src/replica/server.h"
#include "src/replica/stateful.h"
#include "src/replica/wire.h"

namespace shoal::replica {
namespace {

using ::testing::HasSubstr;

std::atomic<int> g_runs{0};

// Sleeps `parameters.ms`, fails when `parameters.fail`, and counts its runs.
class Nap : public Executor {
 public:
  explicit Nap(const Config& with) {}
  static void Register(Endpoints<Nap>& e) { e.On(std::string(kDefaultEndpoint), &Nap::Default); }
  Status Default(DocList& docs, const Params& params) {
    ++g_runs;
    absl::SleepFor(absl::Milliseconds(params.Get("ms", 0)));
    if (params.Get("fail", false)) return absl::InternalError("napped badly");
    return absl::OkStatus();
  }
};
SHOAL_EXECUTOR(Nap);

grpc::ByteBuffer Request(const std::string& id, int ms, bool fail = false) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(id);
  request.mutable_header()->set_exec_endpoint("/x");
  (*request.mutable_parameters()->mutable_fields())["ms"].set_number_value(ms);
  (*request.mutable_parameters()->mutable_fields())["fail"].set_bool_value(fail);
  (*request.mutable_data()->mutable_docs()->add_docs()->mutable_data())["id"].set_text(id);
  return BufferOf(request.SerializeAsString());
}

// Answers kept by request id, in the order they came.
class Answers {
 public:
  ReplicaServer::DirectDone For(const std::string& id) {
    return [this, id](ReplicaServer::DirectAnswer answer) {
      absl::MutexLock lock(&mu_);
      got_.emplace_back(id, std::move(answer));
    };
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return got_.size();
  }
  ReplicaServer::DirectAnswer& Of(const std::string& id) {
    absl::MutexLock lock(&mu_);
    for (auto& [key, answer] : got_) {
      if (key == id) return answer;
    }
    ADD_FAILURE() << "no answer for " << id;
    static ReplicaServer::DirectAnswer none;
    return none;
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return got_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, ReplicaServer::DirectAnswer>> got_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<ReplicaServer> StartNap(ReplicaServer::Options options = {.host = "127.0.0.1"}) {
  StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("Nap", Params());
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  auto runtime = std::make_unique<ReplicaRuntime>(std::move(loaded).value(),
                                                  ReplicaRuntime::Options{.name = "nap/rep-0"});
  StatusOr<std::unique_ptr<ReplicaServer>> server =
      ReplicaServer::Start(std::move(runtime), options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(server).value() : nullptr;
}

constexpr auto kNoDeadline = std::chrono::system_clock::time_point::max();
bool NotGone() { return false; }

TEST(DirectCallTest, AnswersAsProcessSingleData) {
  std::unique_ptr<ReplicaServer> server = StartNap();
  ASSERT_NE(server, nullptr);
  Answers answers;
  server->CallDirect(Request("ok", 0), kNoDeadline, NotGone, answers.For("ok"));
  server->CallDirect(Request("bad", 0, /*fail=*/true), kNoDeadline, NotGone, answers.For("bad"));
  grpc::Slice junk("not a request");
  server->CallDirect(grpc::ByteBuffer(&junk, 1), kNoDeadline, NotGone, answers.For("junk"));
  ASSERT_TRUE(answers.WaitFor(3));

  ASSERT_TRUE(answers.Of("ok").status.ok()) << answers.Of("ok").status;
  jina::DataRequestProto ok;
  ASSERT_TRUE(ok.ParseFromString(BufferBytes(answers.Of("ok").response)));
  EXPECT_EQ(ok.header().request_id(), "ok");
  EXPECT_EQ(ok.data().docs().docs_size(), 1);
  EXPECT_FALSE(answers.Of("ok").executor_failed);

  ASSERT_TRUE(answers.Of("bad").status.ok());  // an Executor error is an answer
  EXPECT_TRUE(answers.Of("bad").executor_failed);
  EXPECT_EQ(answers.Of("junk").status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(DirectCallTest, ARequestPastItsDeadlineIsNotRun) {
  std::unique_ptr<ReplicaServer> server = StartNap();
  ASSERT_NE(server, nullptr);
  Answers answers;
  const int runs = g_runs;
  server->CallDirect(Request("late", 0),
                     std::chrono::system_clock::now() - std::chrono::milliseconds(1), NotGone,
                     answers.For("late"));
  server->CallDirect(
      Request("gone", 0), kNoDeadline, [] { return true; }, answers.For("gone"));
  ASSERT_TRUE(answers.WaitFor(2));
  EXPECT_EQ(answers.Of("late").status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(answers.Of("gone").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(g_runs, runs);
}

// The message size limits hold for a direct call as for a gRPC one.
TEST(DirectCallTest, TheReplicasMessageLimitsHold) {
  std::unique_ptr<ReplicaServer> big_answers_refused =
      StartNap({.host = "127.0.0.1", .max_send_message_bytes = 20});
  std::unique_ptr<ReplicaServer> big_requests_refused =
      StartNap({.host = "127.0.0.1", .max_receive_message_bytes = 20});
  ASSERT_NE(big_answers_refused, nullptr);
  ASSERT_NE(big_requests_refused, nullptr);
  Answers answers;
  big_requests_refused->CallDirect(Request("in", 0), kNoDeadline, NotGone, answers.For("in"));
  big_answers_refused->CallDirect(Request("out", 0), kNoDeadline, NotGone, answers.For("out"));
  ASSERT_TRUE(answers.WaitFor(2));
  EXPECT_EQ(answers.Of("in").status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(answers.Of("in").status.message(), HasSubstr("grpc.max_receive_message_length: 20"));
  EXPECT_EQ(answers.Of("out").status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(answers.Of("out").status.message(), HasSubstr("grpc.max_send_message_length: 20"));
}

TEST(DirectCallTest, ShutdownAnswersEveryDirectCallBeforeItReturns) {
  std::unique_ptr<ReplicaServer> server = StartNap();
  ASSERT_NE(server, nullptr);
  Answers answers;
  const int runs = g_runs;
  for (const std::string id : {"r0", "r1", "r2"}) {
    server->CallDirect(Request(id, 300), kNoDeadline, NotGone, answers.For(id));
  }
  for (int i = 0; i < 3000 && g_runs == runs; ++i) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(g_runs, runs + 1);  // r0 runs, r1 and r2 wait
  server->Shutdown(absl::Milliseconds(50));
  ASSERT_EQ(answers.size(), 3u);  // all answered before Shutdown returned
  EXPECT_TRUE(answers.Of("r0").status.ok()) << answers.Of("r0").status;  // it was running
  for (const std::string id : {"r1", "r2"}) {
    EXPECT_EQ(answers.Of(id).status.code(), absl::StatusCode::kUnavailable) << id;
    EXPECT_THAT(answers.Of(id).status.message(), HasSubstr("grace ran out")) << id;
  }
  server->CallDirect(Request("after", 0), kNoDeadline, NotGone, answers.For("after"));
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers.Of("after").status.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shoal::replica
