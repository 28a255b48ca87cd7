// Tests of the Batcher over a real ReplicaRuntime and an Executor that records the batches it
// is called with: batch sizes, answers split back per request, queues per parameters, errors,
// the bounded queue, deadlines, and which configurations are refused.
#include "src/replica/batcher.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/executor/loader.h"

namespace shoal::replica {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Mutex calls_mu;
// Set by /watch during its call: the callers of the test's requests leave then.
std::atomic<bool> gone_during_call{false};
std::atomic<bool> saw_cancelled{false};
std::vector<int>& RecordedSizes() {
  static auto* sizes = new std::vector<int>();
  return *sizes;
}

// Appends "|<parameters.tag>" to each document's text and records the size of each call;
// `parameters.fail` makes the call fail, `/drop` answers one document too few.
class BatchProbe : public Executor {
 public:
  static void Register(Endpoints<BatchProbe>& e) {
    e.On("/embed", &BatchProbe::Embed);
    e.On("/drop", &BatchProbe::Drop);
    e.On("/index", &BatchProbe::Embed).Write();
    e.On("/watch", &BatchProbe::Watch);
  }
  Status Watch(DocList& docs, const Params& params) {
    gone_during_call.store(true);
    saw_cancelled.store(request_cancelled());
    return absl::OkStatus();
  }
  Status Embed(DocList& docs, const Params& params) {
    {
      absl::MutexLock lock(&calls_mu);
      RecordedSizes().push_back(static_cast<int>(docs.size()));
    }
    if (params.Get("fail", false)) return absl::InternalError("asked to fail");
    const std::string tag = params.Get("tag", "");
    for (Doc doc : docs) doc.set_text(std::string(doc.text()) + "|" + tag);
    return absl::OkStatus();
  }
  Status Drop(DocList& docs, const Params& params) {
    docs.proto().mutable_docs()->RemoveLast();
    return absl::OkStatus();
  }
};
SHOAL_EXECUTOR(BatchProbe);

// One request's outcome.
struct Outcome {
  StatusOr<bool> failed = false;
  std::vector<std::string> texts;
  std::string error;
};

class BatcherTest : public ::testing::Test {
 protected:
  void Start(BatchingTable table) {
    StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("BatchProbe", Params());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    runtime_ = std::make_unique<ReplicaRuntime>(std::move(loaded).value(),
                                                ReplicaRuntime::Options{.name = "probe/rep-0"});
    batcher_ = std::make_unique<Batcher>(runtime_.get(), std::move(table));
    absl::MutexLock lock(&calls_mu);
    RecordedSizes().clear();
  }
  void TearDown() override {
    batcher_.reset();
    runtime_.reset();
  }

  static std::shared_ptr<jina::DataRequestProto> Request(const std::string& endpoint,
                                                         const std::string& name, int docs,
                                                         const std::string& params_json = "{}") {
    auto request = std::make_shared<jina::DataRequestProto>();
    request->mutable_header()->set_request_id(name);
    request->mutable_header()->set_exec_endpoint(endpoint);
    std::string error;
    std::optional<Params> params = Params::FromJson(params_json, &error);
    *request->mutable_parameters() = params->proto();
    DocList list(request->mutable_data()->mutable_docs());
    for (int i = 0; i < docs; ++i) list.Add().set_text(name + "-" + std::to_string(i));
    EXPECT_TRUE(ReplicaRuntime::Prepare(*request).ok());
    return request;
  }

  // Submits `request`; its outcome lands in `out` and `done` counts down.
  Status Submit(std::shared_ptr<jina::DataRequestProto> request, Outcome* out,
                absl::BlockingCounter* done,
                std::optional<Batcher::Clock::time_point> deadline = std::nullopt) {
    jina::DataRequestProto* proto = request.get();
    return batcher_->Submit({.request = proto,
                             .memory = request,
                             .deadline = deadline,
                             .cancelled = [] { return false; },
                             .done =
                                 [proto, out, done](StatusOr<bool> failed) {
                                   out->failed = failed;
                                   for (Doc doc : DocList(proto->mutable_data()->mutable_docs())) {
                                     out->texts.emplace_back(doc.text());
                                   }
                                   out->error = proto->header().status().description();
                                   done->DecrementCount();
                                 }});
  }

  static std::vector<int> Sizes() {
    absl::MutexLock lock(&calls_mu);
    return RecordedSizes();
  }

  std::unique_ptr<ReplicaRuntime> runtime_;
  std::unique_ptr<Batcher> batcher_;
};

TEST_F(BatcherTest, ConcurrentSingleDocRequestsMakeBatchesOfThePreferredSize) {
  Start({{"/embed", {.preferred_batch_size = 8, .timeout_ms = 60'000}}});
  constexpr int kThreads = 8, kPerThread = 8;
  std::vector<Outcome> outcomes(kThreads * kPerThread);
  absl::BlockingCounter done(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        EXPECT_TRUE(Submit(Request("/embed", "r" + std::to_string(n), 1, R"({"tag":"x"})"),
                           &outcomes[n], &done)
                        .ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done.Wait();
  EXPECT_EQ(Sizes(), std::vector<int>(8, 8));
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    ASSERT_TRUE(outcomes[n].failed.ok()) << outcomes[n].failed.status();
    EXPECT_FALSE(*outcomes[n].failed);
    EXPECT_THAT(outcomes[n].texts, ElementsAre("r" + std::to_string(n) + "-0|x"));
  }
  EXPECT_EQ(runtime_->processed(), 64u);
  const std::string metrics = metrics::RenderText();
  for (const char* family : {"shoal_replica_batch_size_bucket", "shoal_replica_batch_queue_seconds",
                             "shoal_replica_batch_execution_seconds"}) {
    EXPECT_THAT(metrics, HasSubstr(family));
  }
  EXPECT_THAT(metrics, HasSubstr("endpoint=\"/embed\""));
}

TEST_F(BatcherTest, AQueueShortOfThePreferredSizeIsFlushedAfterTheTimeout) {
  Start({{"/embed", {.preferred_batch_size = 100, .timeout_ms = 20}}});
  std::vector<Outcome> outcomes(3);
  absl::BlockingCounter done(3);
  for (int n = 0; n < 3; ++n) {
    ASSERT_TRUE(Submit(Request("/embed", "r" + std::to_string(n), 2), &outcomes[n], &done).ok());
  }
  done.Wait();
  EXPECT_THAT(Sizes(), ElementsAre(6));
  EXPECT_THAT(outcomes[1].texts, ElementsAre("r1-0|", "r1-1|"));
}

TEST_F(BatcherTest, MaxQueueDelayInMicrosecondsWinsOverTimeout) {
  Start({{"/embed",
          {.preferred_batch_size = 100, .timeout_ms = 600'000, .max_queue_delay_us = 1000}}});
  Outcome outcome;
  absl::BlockingCounter done(1);
  ASSERT_TRUE(Submit(Request("/embed", "r", 1), &outcome, &done).ok());
  done.Wait();  // would wait ten minutes on the timeout
  EXPECT_THAT(outcome.texts, ElementsAre("r-0|"));
}

TEST_F(BatcherTest, ARequestLargerThanMaxBatchSizeIsSplitAndReassembled) {
  Start({{"/embed", {.preferred_batch_size = 4, .timeout_ms = 50, .max_batch_size = 4}}});
  std::vector<Outcome> outcomes(2);
  absl::BlockingCounter done(2);
  ASSERT_TRUE(Submit(Request("/embed", "big", 10), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "small", 2), &outcomes[1], &done).ok());
  done.Wait();
  EXPECT_THAT(Sizes(), ElementsAre(4, 4, 2, 2));
  ASSERT_EQ(outcomes[0].texts.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(outcomes[0].texts[i], "big-" + std::to_string(i) + "|");
  EXPECT_THAT(outcomes[1].texts, ElementsAre("small-0|", "small-1|"));
}

TEST_F(BatcherTest, FlushAllPassesTheWholeQueueInOneCall) {
  Start({{"/embed", {.preferred_batch_size = 4, .flush_all = true}}});
  std::vector<Outcome> outcomes(2);
  absl::BlockingCounter done(2);
  ASSERT_TRUE(Submit(Request("/embed", "a", 3), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "b", 7), &outcomes[1], &done).ok());
  done.Wait();
  EXPECT_THAT(Sizes(), ElementsAre(10));
}

TEST_F(BatcherTest, WithoutFlushAllAFlushIsCutIntoBatchesOfThePreferredSize) {
  Start({{"/embed", {.preferred_batch_size = 4}}});
  std::vector<Outcome> outcomes(2);
  absl::BlockingCounter done(2);
  ASSERT_TRUE(Submit(Request("/embed", "a", 3), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "b", 7), &outcomes[1], &done).ok());
  done.Wait();
  EXPECT_THAT(Sizes(), ElementsAre(4, 4, 2));
  EXPECT_THAT(outcomes[0].texts, ElementsAre("a-0|", "a-1|", "a-2|"));
}

TEST_F(BatcherTest, RequestsWithDifferentParametersAreNeverInOneBatch) {
  Start({{"/embed", {.preferred_batch_size = 4, .timeout_ms = 60'000}}});
  std::vector<Outcome> outcomes(8);
  absl::BlockingCounter done(8);
  for (int n = 0; n < 8; ++n) {
    const std::string params = n % 2 == 0 ? R"({"tag":"even"})" : R"({"tag":"odd"})";
    ASSERT_TRUE(
        Submit(Request("/embed", "r" + std::to_string(n), 1, params), &outcomes[n], &done).ok());
  }
  done.Wait();
  EXPECT_THAT(Sizes(), ElementsAre(4, 4));
  for (int n = 0; n < 8; ++n) {
    EXPECT_THAT(outcomes[n].texts,
                ElementsAre("r" + std::to_string(n) + (n % 2 == 0 ? "-0|even" : "-0|odd")));
  }
}

TEST_F(BatcherTest, AnExecutorErrorFailsEveryRequestOfItsBatchOnly) {
  Start({{"/embed", {.preferred_batch_size = 2, .timeout_ms = 60'000}}});
  std::vector<Outcome> outcomes(4);
  absl::BlockingCounter done(4);
  ASSERT_TRUE(Submit(Request("/embed", "f0", 1, R"({"fail":true})"), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "ok0", 1), &outcomes[1], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "f1", 1, R"({"fail":true})"), &outcomes[2], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "ok1", 1), &outcomes[3], &done).ok());
  done.Wait();
  for (int n : {0, 2}) {
    ASSERT_TRUE(outcomes[n].failed.ok());
    EXPECT_TRUE(*outcomes[n].failed);
    EXPECT_THAT(outcomes[n].error, HasSubstr("asked to fail"));
  }
  for (int n : {1, 3}) {
    ASSERT_TRUE(outcomes[n].failed.ok());
    EXPECT_FALSE(*outcomes[n].failed);
    EXPECT_EQ(outcomes[n].error, "");
  }
  EXPECT_THAT(outcomes[3].texts, ElementsAre("ok1-0|"));
}

TEST_F(BatcherTest, AnAnswerWithTheWrongDocumentCountFailsTheBatch) {
  Start({{"/drop", {.preferred_batch_size = 2, .timeout_ms = 60'000}}});
  std::vector<Outcome> outcomes(2);
  absl::BlockingCounter done(2);
  ASSERT_TRUE(Submit(Request("/drop", "a", 1), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/drop", "b", 1), &outcomes[1], &done).ok());
  done.Wait();
  for (const Outcome& outcome : outcomes) {
    ASSERT_TRUE(outcome.failed.ok());
    EXPECT_TRUE(*outcome.failed);
    EXPECT_THAT(outcome.error, HasSubstr("returned 1 for 2"));
    EXPECT_THAT(outcome.error, HasSubstr("/drop"));
  }
}

TEST_F(BatcherTest, ABatchOfOneWholeRequestIsCheckedForItsDocumentCountToo) {
  Start({{"/drop", {.preferred_batch_size = 1}}, {"/embed", {.preferred_batch_size = 2}}});
  std::vector<Outcome> outcomes(2);
  absl::BlockingCounter done(2);
  ASSERT_TRUE(Submit(Request("/drop", "a", 1), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "b", 2, R"({"tag":"t"})"), &outcomes[1], &done).ok());
  done.Wait();
  ASSERT_TRUE(outcomes[0].failed.ok());
  EXPECT_TRUE(*outcomes[0].failed);
  EXPECT_THAT(outcomes[0].error, HasSubstr("returned 0 for 1"));
  ASSERT_TRUE(outcomes[1].failed.ok());
  EXPECT_FALSE(*outcomes[1].failed);
  EXPECT_THAT(outcomes[1].texts, ElementsAre("b-0|t", "b-1|t"));
}

TEST_F(BatcherTest, AFullQueueRefusesWithResourceExhaustedNamingTheEndpoint) {
  Start({{"/embed", {.preferred_batch_size = 100, .timeout_ms = 60'000, .max_queue_size = 2}}});
  std::vector<Outcome> outcomes(3);
  absl::BlockingCounter done(2);
  ASSERT_TRUE(Submit(Request("/embed", "a", 1, R"({"tag":"t"})"), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "b", 1, R"({"tag":"t"})"), &outcomes[1], &done).ok());
  Status refused = Submit(Request("/embed", "c", 1, R"({"tag":"t"})"), &outcomes[2], &done);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("/embed"));
  EXPECT_THAT(refused.message(), HasSubstr(R"({"tag":"t"})"));
  // The bound is the endpoint's, whatever the parameters: memory stays bounded however many
  // queues a client's parameters open.
  Outcome other;
  EXPECT_EQ(Submit(Request("/embed", "d", 1, R"({"tag":"u"})"), &other, &done).code(),
            absl::StatusCode::kResourceExhausted);
  batcher_->Drain();
  done.Wait();
  // Once they ran, there is room again.
  Outcome later;
  absl::BlockingCounter later_done(1);
  EXPECT_TRUE(Submit(Request("/embed", "e", 1, R"({"tag":"u"})"), &later, &later_done).ok());
  later_done.Wait();
  EXPECT_TRUE(later.failed.ok());
}

// Requests already cut into batches but not yet run still count: with the executor busy, a
// stream of requests that each fill a batch cannot pile up past max_queue_size. Before, the
// count started again at every flush and the posted batches grew without bound.
TEST_F(BatcherTest, BatchesWaitingForTheExecutorCountAgainstTheQueueSize) {
  Start({{"/embed", {.preferred_batch_size = 1, .max_queue_size = 2}}});
  absl::Notification release;
  runtime_->Post([&] { release.WaitForNotification(); });  // the executor is busy
  std::vector<Outcome> outcomes(3);
  absl::BlockingCounter done(2);
  ASSERT_TRUE(Submit(Request("/embed", "a", 1), &outcomes[0], &done).ok());
  ASSERT_TRUE(Submit(Request("/embed", "b", 1), &outcomes[1], &done).ok());
  Status refused = Submit(Request("/embed", "c", 1), &outcomes[2], &done);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("(max_queue_size)"));
  release.Notify();
  done.Wait();
  EXPECT_THAT(Sizes(), ElementsAre(1, 1));
}

TEST_F(BatcherTest, ARequestWhoseDeadlinePassedIsDroppedBeforeTheExecutorRuns) {
  Start({{"/embed", {.preferred_batch_size = 100, .timeout_ms = 60'000}}});
  Outcome outcome;
  absl::BlockingCounter done(1);
  // Its deadline passed before the call could start (here, before it was queued).
  ASSERT_TRUE(Submit(Request("/embed", "late", 1), &outcome, &done,
                     Batcher::Clock::now() - std::chrono::milliseconds(1))
                  .ok());
  done.Wait();
  EXPECT_EQ(outcome.failed.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Sizes().empty());
  EXPECT_EQ(runtime_->dropped(), 1u);
}

TEST_F(BatcherTest, AnEarlyDeadlineFlushesTheQueueBeforeItsTimeout) {
  Start({{"/embed", {.preferred_batch_size = 100, .timeout_ms = 600'000}}});
  Outcome outcome;
  absl::Notification answered;
  std::shared_ptr<jina::DataRequestProto> request = Request("/embed", "soon", 1);
  ASSERT_TRUE(batcher_
                  ->Submit({.request = request.get(),
                            .memory = request,
                            .deadline = Batcher::Clock::now() + std::chrono::milliseconds(200),
                            .cancelled = [] { return false; },
                            .done =
                                [&](StatusOr<bool> failed) {
                                  outcome.failed = failed;
                                  answered.Notify();
                                }})
                  .ok());
  // Answered long before the ten-minute timeout: run just before its deadline, or (on a machine
  // too busy to start it in time) dropped.
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_TRUE(outcome.failed.ok() ||
              outcome.failed.status().code() == absl::StatusCode::kDeadlineExceeded)
      << outcome.failed.status();
}

TEST_F(BatcherTest, TheExecutorSeesABatchCancelledOnceEveryCallerIsGone) {
  Start({{"/watch", {.preferred_batch_size = 2, .timeout_ms = 60'000}}});
  for (bool both_leave : {false, true}) {
    gone_during_call.store(false);
    saw_cancelled.store(!both_leave);
    absl::BlockingCounter done(2);
    std::vector<std::shared_ptr<jina::DataRequestProto>> requests;
    for (int n = 0; n < 2; ++n) {
      requests.push_back(Request("/watch", "w" + std::to_string(n), 1));
      const bool leaves = both_leave || n == 0;
      ASSERT_TRUE(batcher_
                      ->Submit({.request = requests.back().get(),
                                .memory = requests.back(),
                                .cancelled = [leaves] { return leaves && gone_during_call.load(); },
                                .done = [&](StatusOr<bool>) { done.DecrementCount(); }})
                      .ok());
    }
    done.Wait();
    EXPECT_EQ(saw_cancelled.load(), both_leave);
  }
}

TEST_F(BatcherTest, DrainFlushesEveryQueueAtOnce) {
  Start({{"/embed", {.preferred_batch_size = 100, .timeout_ms = 600'000}}});
  Outcome outcome;
  absl::BlockingCounter done(1);
  ASSERT_TRUE(Submit(Request("/embed", "r", 1), &outcome, &done).ok());
  batcher_->Drain();
  done.Wait();
  EXPECT_THAT(outcome.texts, ElementsAre("r-0|"));
}

TEST(ResolveBatchingTest, LaterSourcesReplaceEarlierOnesPerEndpoint) {
  const executor::ExecutorClass* cls = executor::FindExecutorClass("BatchProbe");
  ASSERT_NE(cls, nullptr);
  StatusOr<BatchingTable> table = ResolveBatching(
      *cls, {.yaml = {{"/embed", BatchingOptions{.preferred_batch_size = 4}},
                      {"/drop", BatchingOptions{.preferred_batch_size = 5}}},
             .yaml_source = "e.yml",
             .deployment = {{"/embed", BatchingOptions{.preferred_batch_size = 9}}}});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->at("/embed").preferred_batch_size, 9);
  EXPECT_EQ(table->at("/drop").preferred_batch_size, 5);
}

TEST(ResolveBatchingTest, UseDynamicBatchingFalseSwitchesAnEndpointOff) {
  const executor::ExecutorClass* cls = executor::FindExecutorClass("BatchProbe");
  ASSERT_NE(cls, nullptr);
  StatusOr<BatchingTable> table =
      ResolveBatching(*cls, {.yaml = {{"/embed", BatchingOptions{.preferred_batch_size = 4}}},
                             .deployment = {{"/embed", std::nullopt}}});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_FALSE(table->contains("/embed"));
}

TEST(ResolveBatchingTest, AnEndpointTheExecutorDoesNotHaveIsAnError) {
  const executor::ExecutorClass* cls = executor::FindExecutorClass("BatchProbe");
  ASSERT_NE(cls, nullptr);
  StatusOr<BatchingTable> table = ResolveBatching(
      *cls, {.deployment = {{"/nope", BatchingOptions{.preferred_batch_size = 4}}}});
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(table.status().message(), HasSubstr("uses_dynamic_batching"));
  EXPECT_THAT(table.status().message(), HasSubstr("'/nope'"));
  EXPECT_THAT(table.status().message(), HasSubstr("/embed"));
}

TEST(ResolveBatchingTest, AWriteEndpointOfAStatefulDeploymentIsRefused) {
  const executor::ExecutorClass* cls = executor::FindExecutorClass("BatchProbe");
  ASSERT_NE(cls, nullptr);
  BatchingSources sources{.deployment = {{"/index", BatchingOptions{.preferred_batch_size = 4}}}};
  EXPECT_TRUE(ResolveBatching(*cls, sources).ok());
  sources.stateful = true;
  StatusOr<BatchingTable> table = ResolveBatching(*cls, sources);
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(table.status().message(), HasSubstr("'/index'"));
}

TEST(ResolveBatchingTest, NonPositiveValuesAreErrors) {
  const executor::ExecutorClass* cls = executor::FindExecutorClass("BatchProbe");
  ASSERT_NE(cls, nullptr);
  StatusOr<BatchingTable> table =
      ResolveBatching(*cls, {.deployment = {{"/embed", BatchingOptions{.timeout_ms = 0}}}});
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(table.status().message(), HasSubstr("timeout"));
}

}  // namespace
}  // namespace shoal::replica
