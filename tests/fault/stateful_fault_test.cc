// Fault tests of stateful Deployments: real replica processes of ExactNNIndexer in one Raft group,
// killed (SIGKILL) and frozen (SIGSTOP) while a writer keeps writing. Every acknowledged write
// must be on every replica afterwards, and the replicas must agree (equal `/count` checksums).
// Random choices (embeddings, pauses) come from one seed, printed first; SHOAL_FAULT_SEED=<n>
// replays a run. Every wait is bounded.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/deployment.h"
#include "tests/fault/fault_support.h"
#include "tests/integration/child_process.h"
#include "tests/integration/flow_nodes.h"
#include "tests/testing/acked_writes.h"
#include "tests/testing/leader_probe.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using std::chrono::milliseconds;
using testing::ExpectEveryAckedWriteOn;

constexpr int kDim = 8;

// Writes one doc per request (ids w-0, w-1, ...) from a thread until stopped, and remembers the
// embedding of every write that was acknowledged.
class Writer {
 public:
  Writer(Deployment& dep, std::mt19937_64& random, int first)
      : dep_(dep), next_(first), random_(random()) {}
  ~Writer() { Stop(); }

  void Start() {
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded) until `n` more writes were acknowledged.
  bool WaitForAcks(size_t n) {
    size_t target = acked_count() + n;
    for (int i = 0; i < 1000 && acked_count() < target; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    return acked_count() >= target;
  }
  size_t acked_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }
  std::vector<std::pair<std::string, std::vector<float>>> acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int failed() const { return failed_; }
  int next() const { return next_; }

 private:
  void Run() {
    std::normal_distribution<float> normal;
    // Bounded: at most 5,000 writes per run of the thread.
    for (int k = 0; k < 5000 && !stop_; ++k) {
      std::string id = "w-" + std::to_string(next_++);
      std::vector<float> v(kDim);
      for (float& x : v) x = normal(random_);
      DocList docs;
      Doc doc = docs.Add();
      doc.set_id(id);
      doc.set_embedding(v);
      auto written = dep_.Post("/index", docs, {.stream = false, .timeout = milliseconds(30000)});
      if (written.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        acked_.emplace_back(id, std::move(v));
      } else {
        ++failed_;
      }
    }
  }

  Deployment& dep_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_;
  std::atomic<int> failed_{0};
  std::mt19937_64 random_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::vector<float>>> acked_;
  std::thread thread_;
};

struct ReplicaState {
  std::string count = "down";
  std::string checksum;
  bool operator==(const ReplicaState&) const = default;
};

std::ostream& operator<<(std::ostream& out, const ReplicaState& state) {
  return out << state.count << "/" << state.checksum;
}

ReplicaState StateOf(const std::string& address) {
  ReplicaState state;
  auto client = Client::Connect(address, {.connect_timeout = milliseconds(2000)});
  if (!client.ok()) return state;
  auto answer = client->Post("/count", DocList(), {.stream = false, .timeout = milliseconds(3000)});
  if (!answer.ok() || answer->size() != 1) return state;
  state.count = std::string((*answer)[0].text());
  state.checksum = std::string((*answer)[0].GetText("checksum").value_or(""));
  return state;
}

std::vector<ReplicaState> States(const Deployment& dep) {
  std::vector<ReplicaState> states;
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) states.push_back(StateOf(address));
  return states;
}

// Waits (bounded) until every replica answers with the same count and checksum; returns it.
std::optional<ReplicaState> Converged(const Deployment& dep) {
  std::vector<ReplicaState> states;
  for (int i = 0; i < 600; ++i) {
    states = States(dep);
    if (states[0].count != "down" &&
        std::all_of(states.begin(), states.end(),
                    [&](const ReplicaState& s) { return s == states[0]; })) {
      return states[0];
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  ADD_FAILURE() << "replicas did not converge: " << ::testing::PrintToString(states);
  return std::nullopt;
}

// The replica that accepts an empty write sent to it alone (writes are refused by followers).
int FindLeader(const Deployment& dep, int attempt) {
  return testing::FindLeader(
      dep.replica_addresses()[0],
      {.id_prefix = "probe-" + std::to_string(attempt), .pause = absl::Milliseconds(50)});
}

TEST(StatefulFaultTest, KillingTheLeaderFiveTimesDuringWritesLosesNoAcknowledgedWrite) {
  std::mt19937_64 random(testing::FaultSeed());
  const testing::TempDir tmp("fault-leader-kill");
  std::filesystem::path workspace = tmp.path();
  Deployment dep(testing::StatefulIndexer("kill", workspace));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  Writer writer(dep, random, 0);
  writer.Start();
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(writer.WaitForAcks(20)) << "round " << round;
    int leader = FindLeader(dep, round);
    ASSERT_GE(leader, 0) << "round " << round << ": no leader";
    int pid = dep.replica_pid(0, leader);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    // Writes go on while a new leader is elected and the killed replica restarts.
    ASSERT_TRUE(writer.WaitForAcks(20)) << "round " << round << ": no write after the kill";
    ASSERT_TRUE(testing::Restarted(dep, leader, pid, absl::Seconds(30))) << "round " << round;
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(0, 300)(random)));
  }
  writer.Stop();
  std::optional<ReplicaState> state = Converged(dep);
  ASSERT_TRUE(state.has_value());
  const auto acked = writer.acked();
  // Unacknowledged writes may or may not have been applied (their outcome was unknown).
  EXPECT_GE(std::stoul(state->count), acked.size());
  EXPECT_LE(std::stoul(state->count), static_cast<size_t>(writer.next()));
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) ExpectEveryAckedWriteOn(address, acked);
  std::cout << "acknowledged " << acked.size() << ", failed " << writer.failed() << ", stored "
            << state->count << std::endl;
}

TEST(StatefulFaultTest, KillingEveryReplicaAndRestartingKeepsIdenticalState) {
  std::mt19937_64 random(testing::FaultSeed() + 1);
  const testing::TempDir tmp("fault-kill-all");
  std::filesystem::path workspace = tmp.path();
  std::optional<ReplicaState> before;
  std::vector<std::pair<std::string, std::vector<float>>> acked;
  {
    Deployment dep(testing::StatefulIndexer("all", workspace));
    ASSERT_TRUE(dep.Start().ok());
    Writer writer(dep, random, 0);
    writer.Start();
    ASSERT_TRUE(writer.WaitForAcks(60));
    writer.Stop();
    before = Converged(dep);
    ASSERT_TRUE(before.has_value());
    acked = writer.acked();
    // Every replica at once: the supervisor restarts them from their Raft logs.
    std::vector<int> pids;
    for (int r = 0; r < 3; ++r) pids.push_back(dep.replica_pid(0, r));
    for (int pid : pids) ASSERT_EQ(kill(pid, SIGKILL), 0);
    for (int r = 0; r < 3; ++r)
      ASSERT_TRUE(testing::Restarted(dep, r, pids[r], absl::Seconds(30))) << "replica " << r;
    std::optional<ReplicaState> after = Converged(dep);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(*after, *before);
  }
  // The whole Deployment again, on the same workspace (its recorded Raft ports).
  Deployment again(testing::StatefulIndexer("all", workspace));
  Status restarted = again.Start();
  ASSERT_TRUE(restarted.ok()) << restarted;
  std::optional<ReplicaState> after = Converged(again);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(*after, *before);
  const std::vector<std::string> addresses = again.replica_addresses()[0];
  for (const std::string& address : addresses) ExpectEveryAckedWriteOn(address, acked);
  // And it takes writes.
  Writer writer(again, random, 100000);
  writer.Start();
  EXPECT_TRUE(writer.WaitForAcks(5));
}

TEST(StatefulFaultTest, AFrozenFollowerCatchesUpWhenItResumes) {
  std::mt19937_64 random(testing::FaultSeed() + 2);
  const testing::TempDir tmp("fault-stop-follower");
  std::filesystem::path workspace = tmp.path();
  Deployment dep(testing::StatefulIndexer("stop", workspace));
  ASSERT_TRUE(dep.Start().ok());
  Writer writer(dep, random, 0);
  writer.Start();
  ASSERT_TRUE(writer.WaitForAcks(10));
  int leader = FindLeader(dep, 0);
  ASSERT_GE(leader, 0);
  int follower = (leader + 1 + static_cast<int>(random() % 2)) % 3;
  int pid = dep.replica_pid(0, follower);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  // The other two keep committing.
  bool wrote = writer.WaitForAcks(50);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  EXPECT_TRUE(wrote);
  ASSERT_TRUE(writer.WaitForAcks(10));
  writer.Stop();
  std::optional<ReplicaState> state = Converged(dep);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(dep.replica_pid(0, follower), pid) << "the follower was restarted, not resumed";
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  ExpectEveryAckedWriteOn(addresses[follower], writer.acked());
}

TEST(StatefulFaultTest, WithTwoOfThreeFrozenWritesFailUnavailableAndResumeAfterwards) {
  std::mt19937_64 random(testing::FaultSeed() + 3);
  const testing::TempDir tmp("fault-stop-two");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options = testing::StatefulIndexer("quorum", workspace);
  options.retries = -1;  // Jina's default budget: max(3, replicas) + 1 attempts
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  Writer writer(dep, random, 0);
  writer.Start();
  ASSERT_TRUE(writer.WaitForAcks(10));
  writer.Stop();
  int running = static_cast<int>(random() % 3);
  std::vector<int> frozen;
  for (int r = 0; r < 3; ++r) {
    if (r == running) continue;
    frozen.push_back(dep.replica_pid(0, r));
    ASSERT_EQ(kill(frozen.back(), SIGSTOP), 0);
  }
  DocList docs;
  std::vector<float> v(kDim, 0.5f);
  docs.Add().set_embedding(v);
  auto written = dep.Post("/index", docs, {.stream = false, .timeout = milliseconds(60000)});
  for (int pid : frozen) kill(pid, SIGCONT);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), absl::StatusCode::kUnavailable) << written.status();
  std::cout << "with a quorum frozen: " << written.status() << std::endl;
  // Back to three: writes are accepted again and the replicas agree.
  writer.Start();
  EXPECT_TRUE(writer.WaitForAcks(10));
  writer.Stop();
  EXPECT_TRUE(Converged(dep).has_value());
}

}  // namespace
}  // namespace shoal
