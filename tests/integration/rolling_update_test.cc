// Rolling updates of a running Deployment of real replica processes, under steady load from 8
// senders: the update completes without a failed request and the new version answers every
// request sent after Update() returned; an update whose new replicas cannot start is rolled back,
// again without a failed request, and the old version keeps answering.
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/deployment.h"
#include "src/metrics/metrics.h"
#include "tests/integration/child_process.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

constexpr char kVersioned[] = VERSIONED_EXECUTOR_PATH;

DeploymentOptions Versioned(std::string name, std::string version, std::string fail_on = "") {
  DeploymentOptions options;
  options.name = std::move(name);
  options.uses = kVersioned;
  options.uses_with = "{\"version\": \"" + version + "\", \"fail_on\": \"" + fail_on + "\"}";
  options.replicas = 3;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 30000;
  return options;
}

// Senders that each post one document at a time until stopped (after at least `least` requests
// each, at most 20000), counting failures and the answers of a version other than the one
// expected once Expect() was called.
class Load {
 public:
  Load(Deployment& dep, int senders, int least) : dep_(dep), least_(least) {
    for (int s = 0; s < senders; ++s) threads_.emplace_back([this] { Send(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Every request sent from now on must be answered by `version`.
  void Expect(std::string version) {
    absl::MutexLock lock(&mu_);
    expected_ = std::move(version);
    served_by_.clear();
  }
  int done() const { return done_; }
  int failed() const { return failed_; }
  std::string first_error() const {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }
  int stale() const { return stale_; }
  // The replicas that answered since the last Expect().
  std::set<std::string> served_by() const {
    absl::MutexLock lock(&mu_);
    return served_by_;
  }

 private:
  void Send() {
    for (int i = 0; i < 20000 && (i < least_ || !stop_); ++i) {
      std::string expected;
      {
        absl::MutexLock lock(&mu_);
        expected = expected_;
      }
      DocList docs;
      docs.Add().set_text("x");
      auto answer = dep_.Post("/", docs, {.stream = false});
      ++done_;
      if (!answer.ok() || answer->size() != 1) {
        ++failed_;
        absl::MutexLock lock(&mu_);
        if (first_error_.empty()) {
          first_error_ = answer.ok() ? "not one doc in the answer" : answer.status().ToString();
        }
        continue;
      }
      const std::string version((*answer)[0].GetText("version").value_or("<none>"));
      if (!expected.empty() && version != expected) ++stale_;
      absl::MutexLock lock(&mu_);
      served_by_.insert(std::string((*answer)[0].GetText("served_by").value_or("")));
    }
  }

  Deployment& dep_;
  const int least_;
  std::atomic<bool> stop_{false};
  std::atomic<int> done_{0};
  std::atomic<int> failed_{0};
  std::atomic<int> stale_{0};
  mutable absl::Mutex mu_;
  std::string expected_ ABSL_GUARDED_BY(mu_);
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> served_by_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

std::vector<int> Pids(const Deployment& dep) {
  return {dep.replica_pid(0, 0), dep.replica_pid(0, 1), dep.replica_pid(0, 2)};
}

TEST(RollingUpdateTest, UnderLoadNoRequestFailsAndTheNewVersionAnswersAfterUpdate) {
  Deployment dep(Versioned("roll", "v1"));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<int> before = Pids(dep);
  Load load(dep, 8, /*least=*/300);  // during the update, either version may answer
  ASSERT_TRUE(testing::WaitFor([&] { return load.done() >= 400; }, absl::Seconds(60)));

  Status updated = dep.Update(Versioned("roll", "v2"));
  ASSERT_TRUE(updated.ok()) << updated;
  load.Expect("v2");
  const int at_update = load.done();
  EXPECT_TRUE(testing::WaitFor([&] { return load.done() >= at_update + 600; }, absl::Seconds(60)));
  load.Stop();

  EXPECT_GE(load.done(), 2400);
  EXPECT_EQ(load.failed(), 0) << load.first_error();
  EXPECT_EQ(load.stale(), 0);
  // The replicas keep Jina's names, and each is a new process.
  EXPECT_EQ(load.served_by(), (std::set<std::string>{"roll/rep-0", "roll/rep-1", "roll/rep-2"}));
  const std::vector<int> after = Pids(dep);
  for (int r = 0; r < 3; ++r) {
    EXPECT_GT(after[r], 0);
    EXPECT_NE(after[r], before[r]) << "rep-" << r;
  }
  EXPECT_THAT(metrics::RenderText(),
              HasSubstr("shoal_deployment_rollouts_total{deployment=\"roll\",result=\"done\"} 1"));
}

TEST(RollingUpdateTest, ANewVersionThatCannotStartIsRolledBackWithoutAFailedRequest) {
  Deployment dep(Versioned("back", "v1"));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  Load load(dep, 8, /*least=*/150);
  ASSERT_TRUE(testing::WaitFor([&] { return load.done() >= 400; }, absl::Seconds(60)));

  // rep-0 is replaced, rep-1 cannot start: rep-0 is put back from the old version.
  Status updated = dep.Update(Versioned("back", "v2", /*fail_on=*/"rep-1"));
  EXPECT_FALSE(updated.ok());
  EXPECT_THAT(updated.message(), HasSubstr("'back/rep-1'"));
  EXPECT_THAT(updated.message(), HasSubstr("refusing to start as back/rep-1"));
  load.Expect("v1");
  const int at_update = load.done();
  EXPECT_TRUE(testing::WaitFor([&] { return load.done() >= at_update + 600; }, absl::Seconds(60)));
  load.Stop();

  EXPECT_EQ(load.failed(), 0) << load.first_error();
  EXPECT_EQ(load.stale(), 0);
  EXPECT_EQ(load.served_by(), (std::set<std::string>{"back/rep-0", "back/rep-1", "back/rep-2"}));
  EXPECT_THAT(
      metrics::RenderText(),
      HasSubstr("shoal_deployment_rollouts_total{deployment=\"back\",result=\"rolled_back\"} 1"));

  // The Deployment can still be updated.
  Status again = dep.Update(Versioned("back", "v3"));
  EXPECT_TRUE(again.ok()) << again;
  auto answer = dep.Post("/", [] {
    DocList docs;
    docs.Add().set_text("x");
    return docs;
  }());
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ((*answer)[0].GetText("version").value_or(""), "v3");
}

}  // namespace
}  // namespace shoal
