// Tests of ReplicaRuntime with a built-in Executor: what the Executor sees of a request, here
// that documents without an id are given ids before it runs.
#include "src/replica/runtime.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/executor/loader.h"

namespace shoal::replica {
namespace {

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("ExactNNIndexer", Params());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    runtime_ = std::make_unique<ReplicaRuntime>(std::move(loaded).value(),
                                                ReplicaRuntime::Options{.name = "idx/rep-0"});
  }

  // Runs `request` through the runtime on its executor thread; the request becomes the answer.
  void Process(jina::DataRequestProto& request) {
    absl::Notification done;
    StatusOr<bool> failed = false;
    runtime_->Post([&] {
      failed = runtime_->Process(request);
      done.Notify();
    });
    done.WaitForNotification();
    ASSERT_TRUE(failed.ok()) << failed.status();
    EXPECT_FALSE(*failed) << request.header().status().description();
  }

  static jina::DataRequestProto Request(std::string id, std::string endpoint, int docs) {
    jina::DataRequestProto request;
    request.mutable_header()->set_request_id(std::move(id));
    request.mutable_header()->set_exec_endpoint(std::move(endpoint));
    DocList list(request.mutable_data()->mutable_docs());
    for (int i = 0; i < docs; ++i) {
      Doc doc = list.Add();
      doc.Erase("id");
      const float embedding[] = {static_cast<float>(i), 1.0f, 0.5f};
      doc.set_embedding(embedding);
    }
    return request;
  }

  std::unique_ptr<ReplicaRuntime> runtime_;
};

TEST_F(RuntimeTest, DocsWithoutIdsAreIndexedUnderIdsOfTheirOwn) {
  jina::DataRequestProto index = Request("index-request", "/index", 3);
  Process(index);
  DocList indexed(index.mutable_data()->mutable_docs());
  std::set<std::string> ids;
  for (Doc doc : indexed) ids.insert(std::string(doc.id()));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_FALSE(ids.contains(""));

  jina::DataRequestProto count = Request("count-request", "/count", 0);
  Process(count);
  ASSERT_EQ(count.data().docs().docs_size(), 1);
  EXPECT_EQ(DocList(count.mutable_data()->mutable_docs())[0].text(), "3");

  jina::DataRequestProto search = Request("search-request", "/search", 1);
  Process(search);
  Doc answer = DocList(search.mutable_data()->mutable_docs())[0];
  EXPECT_EQ(answer.id().size(), 32u);
  ASSERT_EQ(answer.matches().size(), 3u);
  for (Doc match : answer.matches()) EXPECT_TRUE(ids.contains(std::string(match.id())));
}

TEST_F(RuntimeTest, IdsDependOnTheRequestIdAndThePlaceOnly) {
  // Every replica of a stateful group applies the same log entry: same request, same ids.
  jina::DataRequestProto first = Request("same-request", "/index", 2);
  jina::DataRequestProto again = Request("same-request", "/index", 2);
  jina::DataRequestProto other = Request("other-request", "/index", 2);
  Process(first);
  Process(again);
  Process(other);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(first.data().docs().docs(i).data().at("id").text(),
              again.data().docs().docs(i).data().at("id").text());
    EXPECT_NE(first.data().docs().docs(i).data().at("id").text(),
              other.data().docs().docs(i).data().at("id").text());
  }
}

// The runtime hands the caller's cancellation to the Executor: Sleep asked for a minute stops at
// once when the caller is gone, and answers the error; with no caller to lose it sleeps.
TEST(RuntimeCancelTest, TheExecutorSeesItsCallerGone) {
  StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("Sleep", Params());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ReplicaRuntime runtime(std::move(loaded).value(), {.name = "sleep/rep-0"});
  auto run = [&](int ms, ReplicaRuntime::Cancelled cancelled) {
    jina::DataRequestProto request;
    request.mutable_header()->set_exec_endpoint("/sleep");
    (*request.mutable_parameters()->mutable_fields())["ms"].set_number_value(ms);
    absl::Notification done;
    StatusOr<bool> failed = false;
    runtime.Post([&] {
      failed = runtime.Process(request, ReplicaRuntime::Clock::now(), nullptr, cancelled);
      done.Notify();
    });
    done.WaitForNotification();
    EXPECT_TRUE(failed.ok()) << failed.status();
    return request.header().status().exception().name();
  };
  EXPECT_EQ(run(60000, [] { return true; }), "CancelledError");
  EXPECT_EQ(run(1, [] { return false; }), "");
  EXPECT_EQ(run(1, nullptr), "");
}

// A request whose deadline is nearer than the endpoint usually takes is not started: under
// overload the Executor then spends its time on requests that can still make it.
TEST(RuntimeCancelTest, ARequestThatCannotMakeItsDeadlineIsNotStarted) {
  StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("Sleep", Params());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ReplicaRuntime runtime(std::move(loaded).value(), {.name = "sleep/rep-0"});
  auto on_thread = [&](auto fn) {
    absl::Notification done;
    runtime.Post([&] {
      fn();
      done.Notify();
    });
    done.WaitForNotification();
  };
  auto sleep = [&](int ms, ReplicaRuntime::Cancelled cancelled) {
    jina::DataRequestProto request;
    request.mutable_header()->set_exec_endpoint("/sleep");
    (*request.mutable_parameters()->mutable_fields())["ms"].set_number_value(ms);
    on_thread([&] {
      (void)runtime.Process(request, ReplicaRuntime::Clock::now(), nullptr, std::move(cancelled));
    });
  };
  auto check = [&](std::chrono::milliseconds left) {
    Status verdict;
    on_thread([&] {
      verdict = runtime.CheckDeadline("/sleep", std::chrono::system_clock::now() + left);
    });
    return verdict;
  };
  // Nothing measured yet: only a deadline already past stops a request.
  EXPECT_TRUE(check(std::chrono::milliseconds(1)).ok());
  EXPECT_EQ(check(std::chrono::milliseconds(-1)).code(), absl::StatusCode::kDeadlineExceeded);
  // Calls cut short by a caller that left do not count.
  for (int i = 0; i < 20; ++i) sleep(60000, [] { return true; });
  EXPECT_TRUE(check(std::chrono::milliseconds(1)).ok());
  for (int i = 0; i < 20; ++i) sleep(40, nullptr);
  Status refused = check(std::chrono::milliseconds(5));
  EXPECT_EQ(refused.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("'/sleep' takes about"));
  EXPECT_TRUE(check(std::chrono::seconds(60)).ok());
  Status no_deadline;
  on_thread([&] {
    no_deadline = runtime.CheckDeadline("/sleep", std::chrono::system_clock::time_point::max());
  });
  EXPECT_TRUE(no_deadline.ok());
}

// What a streaming endpoint writes, kept; `limit` writes succeed, then the caller is gone.
class CollectedWriter : public DocWriter {
 public:
  explicit CollectedWriter(size_t limit = 1000) : limit_(limit) {}
  bool Write(const Doc& doc) override {
    if (texts.size() >= limit_) return false;
    texts.push_back(std::string(doc.text()));
    return true;
  }
  bool cancelled() const override { return texts.size() >= limit_; }
  std::vector<std::string> texts;

 private:
  size_t limit_;
};

// Where PostRequest runs a request's work for `uses`: true on the posting thread. The work
// processes the request, as the server's does, so that the runtime learns the endpoint's cost.
bool RunsOnThePostingThread(ReplicaRuntime& runtime, const jina::DataRequestProto& request) {
  absl::Notification done;
  std::thread::id ran_on;
  jina::DataRequestProto copy = request;
  Status posted = runtime.PostRequest(
      [&] {
        ran_on = std::this_thread::get_id();
        (void)runtime.Process(copy);
        done.Notify();
      },
      request.header().exec_endpoint());
  EXPECT_TRUE(posted.ok()) << posted;
  done.WaitForNotification();
  // The task notified from inside: the executor thread is idle again only once it returned, and
  // the next call may run inline only then.
  for (int i = 0; i < 10000 && runtime.pending() > 0; ++i) absl::SleepFor(absl::Microseconds(100));
  return ran_on == std::this_thread::get_id();
}

jina::DataRequestProto OneDoc(const std::string& endpoint) {
  jina::DataRequestProto request;
  request.mutable_header()->set_exec_endpoint(endpoint);
  DocList(request.mutable_data()->mutable_docs()).Add();
  return request;
}

std::unique_ptr<ReplicaRuntime> RuntimeOf(const std::string& uses, const Params& with) {
  StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor(uses, with);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return std::make_unique<ReplicaRuntime>(std::move(loaded).value(),
                                          ReplicaRuntime::Options{.name = "x/rep-0"});
}

TEST(InlineCallsTest, ACheapEndpointRunsOnThePostingThreadOnceItsCostIsKnown) {
  std::unique_ptr<ReplicaRuntime> runtime = RuntimeOf("Echo", Params());
  // Never called: its cost is unknown, so it goes to the executor thread.
  EXPECT_FALSE(RunsOnThePostingThread(*runtime, OneDoc("/")));
  EXPECT_TRUE(RunsOnThePostingThread(*runtime, OneDoc("/")));
  // Without an endpoint (work that may block on a client), always the executor thread.
  absl::Notification done;
  std::thread::id ran_on;
  ASSERT_TRUE(runtime
                  ->PostRequest([&] {
                    ran_on = std::this_thread::get_id();
                    done.Notify();
                  })
                  .ok());
  done.WaitForNotification();
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(InlineCallsTest, NotOnAThreadThatAskedToPostOnly) {
  std::unique_ptr<ReplicaRuntime> runtime = RuntimeOf("Echo", Params());
  EXPECT_FALSE(RunsOnThePostingThread(*runtime, OneDoc("/")));  // learns the cost
  {
    ReplicaRuntime::PostOnlyScope post_only;
    EXPECT_FALSE(RunsOnThePostingThread(*runtime, OneDoc("/")));
  }
  EXPECT_TRUE(RunsOnThePostingThread(*runtime, OneDoc("/")));
}

TEST(InlineCallsTest, AnEndpointThatTakesLongerStaysOnTheExecutorThread) {
  // 2 ms per call: ten times kInlineBelow.
  std::unique_ptr<ReplicaRuntime> runtime = RuntimeOf("Sleep", *Params::FromJson(R"({"ms": 2})"));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(RunsOnThePostingThread(*runtime, OneDoc("/")));
}

class StreamRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<executor::LoadedExecutor> loaded =
        executor::LoadExecutor("Stream", *Params::FromJson(R"({"n": 3})"));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    runtime_ = std::make_unique<ReplicaRuntime>(std::move(loaded).value(),
                                                ReplicaRuntime::Options{.name = "gen/rep-0"});
  }
  template <typename Fn>
  void OnExecutorThread(Fn fn) {
    absl::Notification done;
    runtime_->Post([&] {
      fn();
      done.Notify();
    });
    done.WaitForNotification();
  }
  static jina::DataRequestProto Request(const std::string& params, std::vector<std::string> texts) {
    jina::DataRequestProto request;
    request.mutable_header()->set_exec_endpoint("/g");
    *request.mutable_parameters() = Params::FromJson(params)->proto();
    DocList list(request.mutable_data()->mutable_docs());
    for (const std::string& text : texts) list.Add().set_text(text);
    return request;
  }
  std::unique_ptr<ReplicaRuntime> runtime_;
};

TEST_F(StreamRuntimeTest, AStreamWritesEachDocAndStopsWhenTheCallerIsGone) {
  jina::DataRequestProto request = Request(R"({"n": 5})", {"a"});
  CollectedWriter out;
  OnExecutorThread([&] { EXPECT_FALSE(*runtime_->ProcessStream(request, out)); });
  EXPECT_EQ(out.texts, (std::vector<std::string>{"a 0", "a 1", "a 2", "a 3", "a 4"}));

  jina::DataRequestProto again = Request(R"({"n": 1000000})", {"b"});
  CollectedWriter two(2);
  OnExecutorThread([&] { EXPECT_FALSE(*runtime_->ProcessStream(again, two)); });
  EXPECT_EQ(two.texts.size(), 2u);
}

TEST_F(StreamRuntimeTest, AnErrorIsInTheRequestsHeader) {
  jina::DataRequestProto request = Request(R"({"n": 5, "fail_after": 1})", {"a"});
  CollectedWriter out;
  OnExecutorThread([&] { EXPECT_TRUE(*runtime_->ProcessStream(request, out)); });
  EXPECT_EQ(out.texts.size(), 1u);
  EXPECT_EQ(request.header().status().code(), jina::StatusProto::ERROR);
}

// Through process_single_data or Call, a stream runs once per document and the answer holds
// everything written, in order.
TEST_F(StreamRuntimeTest, ANonStreamingCallCollectsWhatEachDocWrote) {
  jina::DataRequestProto request = Request(R"({"n": 2})", {"a", "b"});
  StatusOr<bool> failed = false;
  OnExecutorThread([&] { failed = runtime_->Process(request); });
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(*failed);
  std::vector<std::string> texts;
  for (Doc doc : DocList(request.mutable_data()->mutable_docs())) {
    texts.push_back(std::string(doc.text()));
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"a 0", "a 1", "b 0", "b 1"}));
}

TEST_F(StreamRuntimeTest, DiscoveryMarksTheEndpointAsAGenerator) {
  jina::EndpointsProto endpoints;
  runtime_->FillEndpoints(endpoints);
  EXPECT_TRUE(endpoints.schemas()
                  .fields()
                  .at("/default")
                  .struct_value()
                  .fields()
                  .at("is_generator")
                  .bool_value());
}

}  // namespace
}  // namespace shoal::replica
