// Fault test of a stateful Python Executor (tests/python/executors/ledger.py): three Raft
// replicas, each embedding its own interpreter, while a writer keeps writing; the leader is
// killed (SIGKILL) several times. Every acknowledged write must be on every replica afterwards,
// and the replicas must agree (equal `/count` checksums, which cover the applied write count).
// Random choices (texts, pauses) come from one seed, printed first; SHOAL_FAULT_SEED=<n> replays
// a run. Every wait is bounded.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "tests/fault/fault_support.h"
#include "tests/integration/child_process.h"
#include "tests/testing/acked_writes.h"
#include "tests/testing/leader_probe.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using std::chrono::milliseconds;

// Fast elections, and snapshots often enough that a restarted replica restores one (Python's
// restore()) before it replays the log's tail.
constexpr char kFastSnapshottingRaft[] =
    R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
        "CommitTimeout": 5, "SnapshotThreshold": 16, "SnapshotInterval": 1, "TrailingLogs": 4,
        "LogLevel": "WARN"})";

DeploymentOptions Ledger(const std::filesystem::path& workspace) {
  DeploymentOptions options;
  options.name = "ledger";
  options.uses = absl::StrCat(SHOAL_SOURCE_DIR, "/tests/python/executors/ledger.py:Ledger");
  options.replicas = 3;
  options.stateful = true;
  options.workspace = workspace.string();
  options.raft_configuration = kFastSnapshottingRaft;
  options.retries = 30;  // rounds over the replicas, with pauses, while a new leader is elected
  options.timeout_send_ms = 2000;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 60000;
  return options;
}

using Acked = std::vector<std::pair<std::string, std::string>>;  // id, text

// Writes one doc per request (ids w-0, w-1, ...; a random text each) from a thread until
// stopped, and remembers every write that was acknowledged.
class Writer {
 public:
  Writer(Deployment& dep, std::mt19937_64& random) : dep_(dep), random_(random()) {}
  ~Writer() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded) until `n` more writes were acknowledged.
  bool WaitForAcks(size_t n) {
    size_t target = acked().size() + n;
    for (int i = 0; i < 1500 && acked().size() < target; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    return acked().size() >= target;
  }
  Acked acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int failed() const { return failed_; }
  int next() const { return next_; }

 private:
  void Run() {
    // Bounded: at most 3,000 writes.
    for (int k = 0; k < 3000 && !stop_; ++k) {
      std::string id = absl::StrCat("w-", next_++);
      std::string text = absl::StrCat("t", random_());
      DocList docs;
      Doc doc = docs.Add();
      doc.set_id(id);
      doc.set_text(text);
      auto written = dep_.Post("/index", docs, {.stream = false, .timeout = milliseconds(30000)});
      if (written.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        acked_.emplace_back(id, text);
      } else {
        ++failed_;
      }
    }
  }

  Deployment& dep_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_{0};
  std::atomic<int> failed_{0};
  std::mt19937_64 random_;
  mutable std::mutex mu_;
  Acked acked_;
  std::thread thread_;
};

// Waits (bounded) until every replica answers the same count and checksum; returns the count.
std::optional<size_t> Converged(const Deployment& dep) {
  const std::string state = testing::ConvergedState([&dep] { return dep.replica_addresses()[0]; });
  if (state.empty()) return std::nullopt;
  return std::stoul(state.substr(0, state.find('/')));
}

// Every acknowledged write is on replica `address`, with the text it was written with.
void ExpectEveryAckedWriteOn(const std::string& address, const Acked& acked) {
  DocList queries;
  for (const auto& [id, text] : acked) queries.Add().set_id(id);
  auto client = Client::Connect(address);
  ASSERT_TRUE(client.ok()) << client.status();
  auto result = client->Post(
      "/get", queries, {.request_size = 1000, .stream = false, .timeout = milliseconds(30000)});
  ASSERT_TRUE(result.ok()) << address << ": " << result.status();
  ASSERT_EQ(result->size(), acked.size());
  int missing = 0;
  for (size_t i = 0; i < acked.size(); ++i) {
    if ((*result)[i].id() != acked[i].first || (*result)[i].text() != acked[i].second) ++missing;
  }
  EXPECT_EQ(missing, 0) << address << " lost " << missing << " of " << acked.size()
                        << " acknowledged writes";
}

TEST(PythonStatefulFaultTest, KillingTheLeaderDuringWritesLosesNoAcknowledgedWrite) {
  std::mt19937_64 random(testing::FaultSeed());
  const testing::TempDir tmp("py-fault-leader-kill");
  Deployment dep(Ledger(tmp.path()));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  Writer writer(dep, random);
  writer.Start();
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(writer.WaitForAcks(20)) << "round " << round;
    int leader = testing::FindLeader(
        dep.replica_addresses()[0],
        {.id_prefix = absl::StrCat("probe-", round), .pause = absl::Milliseconds(50)});
    ASSERT_GE(leader, 0) << "round " << round << ": no leader";
    int pid = dep.replica_pid(0, leader);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    // Writes go on while a new leader is elected and the killed replica restarts.
    ASSERT_TRUE(writer.WaitForAcks(20)) << "round " << round << ": no write after the kill";
    ASSERT_TRUE(testing::Restarted(dep, leader, pid, absl::Seconds(60))) << "round " << round;
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(0, 300)(random)));
  }
  writer.Stop();
  std::optional<size_t> count = Converged(dep);
  ASSERT_TRUE(count.has_value());
  const Acked acked = writer.acked();
  // Unacknowledged writes may or may not have been applied (their outcome was unknown).
  EXPECT_GE(*count, acked.size());
  EXPECT_LE(*count, static_cast<size_t>(writer.next()));
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) ExpectEveryAckedWriteOn(address, acked);
  std::cout << "acknowledged " << acked.size() << ", failed " << writer.failed() << ", stored "
            << *count << std::endl;
}

}  // namespace
}  // namespace shoal
