// Autoscaling with real replica processes: a Sleep Deployment under a load step from 1 to 16
// requests in flight scales up to its bound, and back down once the load drops to 1, without a
// failed request.
#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "shoal/deployment.h"
#include "tests/integration/child_process.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

// Senders that each keep one request in flight until stopped (after at least `least` requests
// each, at most 5000).
class Load {
 public:
  Load(Deployment& dep, int senders, int least = 1) : dep_(dep), least_(least) {
    for (int s = 0; s < senders; ++s) threads_.emplace_back([this] { Send(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int done() const { return done_; }
  int failed() const { return failed_; }
  std::set<std::string> served_by() const {
    absl::MutexLock lock(&mu_);
    return served_by_;
  }

 private:
  void Send() {
    for (int i = 0; i < 5000 && (i < least_ || !stop_); ++i) {
      DocList docs;
      docs.Add().set_text("x");
      auto answer = dep_.Post("/work", docs, {.stream = false});
      ++done_;
      if (!answer.ok() || answer->size() != 1) {
        ++failed_;
        continue;
      }
      absl::MutexLock lock(&mu_);
      served_by_.insert(std::string((*answer)[0].GetText("served_by").value_or("")));
    }
  }

  Deployment& dep_;
  const int least_;
  std::atomic<bool> stop_{false};
  std::atomic<int> done_{0};
  std::atomic<int> failed_{0};
  mutable absl::Mutex mu_;
  std::set<std::string> served_by_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

int Replicas(const Deployment& dep) {
  std::vector<std::vector<std::string>> addresses = dep.replica_addresses();
  return addresses.empty() ? 0 : static_cast<int>(addresses[0].size());
}

TEST(AutoscalingTest, ALoadStepScalesUpToMaxAndBackDownWithoutFailedRequests) {
  DeploymentOptions options;
  options.name = "auto";
  options.uses = "Sleep";
  options.uses_with = R"({"ms": 50})";
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 30000;
  options.autoscaling = R"({"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 2,
      "upscale_delay_s": 0.5, "downscale_delay_s": 1, "metrics_interval_s": 0.1,
      "look_back_period_s": 0.5})";
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_EQ(Replicas(dep), 1);
  int most = 1;
  auto replicas_are = [&](int want) {
    return testing::WaitFor(
        [&] {
          const int now = Replicas(dep);
          most = std::max(most, now);
          return now == want;
        },
        absl::Seconds(90));
  };

  {
    // One request in flight (20 of them, about two look-back periods) wants one replica.
    Load one(dep, 1, /*least=*/20);
    EXPECT_TRUE(testing::WaitFor([&] { return one.done() >= 20; }));
    one.Stop();
    EXPECT_EQ(one.failed(), 0);
    EXPECT_EQ(Replicas(dep), 1);
  }

  Load step(dep, 16);
  EXPECT_TRUE(replicas_are(3)) << "replicas: " << Replicas(dep);
  // The new replicas take requests.
  EXPECT_TRUE(testing::WaitFor([&] { return step.served_by().contains("auto/rep-2"); }));
  step.Stop();
  EXPECT_GT(step.done(), 0);
  EXPECT_EQ(step.failed(), 0);

  // One request in flight wants one replica: the others drain and stop while it runs.
  Load trickle(dep, 1, /*least=*/5);
  EXPECT_TRUE(replicas_are(1)) << "replicas: " << Replicas(dep);
  trickle.Stop();
  EXPECT_GT(trickle.done(), 0);
  EXPECT_EQ(trickle.failed(), 0);
  EXPECT_EQ(most, 3);  // never past max_replicas
}

TEST(AutoscalingTest, AStatefulDeploymentIsRefusedWithTheReason) {
  DeploymentOptions options;
  options.name = "raft";
  options.uses = "Counter";
  options.shoal_binary = testing::ShoalBinary();
  options.stateful = true;
  options.workspace = "/tmp/unused-autoscaling-workspace";
  options.replicas = 3;
  options.autoscaling = R"({"min_replicas": 3, "max_replicas": 5})";
  Deployment dep(options);
  Status started = dep.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(started.message().find("autoscaling: not with stateful: true"), std::string::npos)
      << started;
}

}  // namespace
}  // namespace shoal
