// Fault tests of a stateful Deployment's Raft state on disk: workspaces wiped, raft.db truncated,
// a byte of a log entry flipped, a workspace used by two Deployments. Real replica processes of
// ExactNNIndexer; every wait is bounded. Whatever happens, no replica may silently serve lost or
// damaged data: either every replica has every acknowledged write, or the damaged replica stops
// with an error naming what is wrong.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/deployment.h"
#include "tests/integration/child_process.h"

namespace shoal {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr int kDim = 4;
constexpr int kDocs = 30;

std::filesystem::path FreshDir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("shoal-raft-state-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

DeploymentOptions Indexer(const std::string& name, const std::filesystem::path& workspace) {
  DeploymentOptions options;
  options.name = name;
  options.uses = "ExactNNIndexer";
  options.uses_with = R"({"metric": "l2"})";
  options.replicas = 3;
  options.stateful = true;
  options.workspace = workspace.string();
  options.raft_configuration =
      R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
          "CommitTimeout": 5, "LogLevel": "WARN"})";
  options.retries = 30;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 30000;
  return options;
}

// Writes kDocs docs, one request each; the text of doc k is "<marker>-<k>".
void WriteDocs(Deployment& dep, const std::string& marker) {
  for (int k = 0; k < kDocs; ++k) {
    DocList docs;
    Doc doc = docs.Add();
    doc.set_id(marker + "-" + std::to_string(k));
    doc.set_text(marker + "-" + std::to_string(k));
    doc.set_embedding(std::vector<float>(kDim, static_cast<float>(k)));
    auto written = dep.Post("/index", docs, {.stream = false, .timeout = milliseconds(30000)});
    ASSERT_TRUE(written.ok()) << written.status();
  }
}

// The doc count replica `address` reports, or "down".
std::string CountOf(const std::string& address) {
  auto client = Client::Connect(address, {.connect_timeout = milliseconds(2000)});
  if (!client.ok()) return "down";
  auto answer = client->Post("/count", DocList(), {.stream = false, .timeout = milliseconds(3000)});
  if (!answer.ok() || answer->size() != 1) return "down";
  return std::string((*answer)[0].text());
}

// Waits (bounded) until each replica r with running[r] reports `count`; returns the counts.
std::vector<std::string> WaitForCounts(const Deployment& dep, const std::vector<bool>& running,
                                       const std::string& count) {
  std::vector<std::string> counts;
  for (int i = 0; i < 300; ++i) {
    counts.clear();
    bool all = true;
    const std::vector<std::string> addresses = dep.replica_addresses()[0];
    for (size_t r = 0; r < addresses.size(); ++r) {
      counts.push_back(running[r] ? CountOf(addresses[r]) : "stopped");
      all = all && (!running[r] || counts.back() == count);
    }
    if (all) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return counts;
}

std::filesystem::path RaftDb(const std::filesystem::path& workspace, const std::string& name,
                             int replica) {
  return workspace / name / ("rep-" + std::to_string(replica)) / "raft" / "raft.db";
}

TEST(RaftStateFaultTest, TwoOfThreeWorkspacesWipedLoseNoDocument) {
  const std::filesystem::path workspace = FreshDir("wipe-two");
  {
    Deployment dep(Indexer("wipe", workspace));
    Status started = dep.Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_NO_FATAL_FAILURE(WriteDocs(dep, "kept"));
    const std::vector<std::string> counts =
        WaitForCounts(dep, {true, true, true}, std::to_string(kDocs));
    ASSERT_THAT(counts, ::testing::Each(std::to_string(kDocs)));
  }
  std::filesystem::remove_all(workspace / "wipe" / "rep-0");
  std::filesystem::remove_all(workspace / "wipe" / "rep-2");
  Deployment again(Indexer("wipe", workspace));
  Status started = again.Start();
  if (!started.ok()) {
    // The one acceptable failure: a clear refusal naming the replicas' Raft state.
    EXPECT_THAT(std::string(started.message()), HasSubstr("Raft state")) << started;
    return;
  }
  // The wiped replicas took the intact one's state; none of them started an empty group.
  const std::vector<std::string> counts =
      WaitForCounts(again, {true, true, true}, std::to_string(kDocs));
  EXPECT_THAT(counts, ::testing::Each(std::to_string(kDocs)));
  // And the group takes writes.
  ASSERT_NO_FATAL_FAILURE(WriteDocs(again, "more"));
  EXPECT_THAT(WaitForCounts(again, {true, true, true}, std::to_string(2 * kDocs)),
              ::testing::Each(std::to_string(2 * kDocs)));
}

// The hostile order: the wiped replicas come back first and the intact one seconds later (a
// slow disk, a slow Executor). Run as `shoal executor` processes, so that the order is exact.
TEST(RaftStateFaultTest, WipedReplicasStartedBeforeTheIntactOneDoNotStartAnEmptyGroup) {
  const std::filesystem::path workspace = FreshDir("wipe-first");
  {
    Deployment dep(Indexer("early", workspace));
    ASSERT_TRUE(dep.Start().ok());
    ASSERT_NO_FATAL_FAILURE(WriteDocs(dep, "kept"));
    ASSERT_THAT(WaitForCounts(dep, {true, true, true}, std::to_string(kDocs)),
                ::testing::Each(std::to_string(kDocs)));
  }
  std::filesystem::remove_all(workspace / "early" / "rep-0");
  std::filesystem::remove_all(workspace / "early" / "rep-2");
  std::string ports_line;
  {
    std::ifstream in(workspace / "early" / "raft-ports");
    std::getline(in, ports_line);
  }
  std::vector<std::string> ports = absl::StrSplit(ports_line, ',');
  ASSERT_EQ(ports.size(), 3u) << ports_line;
  std::string peers;
  for (int r = 0; r < 3; ++r) {
    absl::StrAppend(&peers, r == 0 ? "" : ",", "rep-", r, "=127.0.0.1:", ports[r]);
  }
  const DeploymentOptions options = Indexer("early", workspace);
  auto start = [&](int r) {
    const std::string name = "early/rep-" + std::to_string(r);
    return testing::ChildProcess::Start(
        {testing::ShoalBinary(), "executor", "--uses", "ExactNNIndexer", "--uses-with",
         R"({"metric": "l2"})", "--name", name, "--host", "127.0.0.1", "--port", "0",
         "--workspace", (workspace / name).string(), "--stateful", "--raft-id",
         "rep-" + std::to_string(r), "--raft-address", "127.0.0.1:" + ports[r],
         "--raft-configuration", options.raft_configuration, "--raft-peers", peers,
         "--timeout-ready", "30000"},
        /*wait_ready=*/false);
  };
  std::unique_ptr<testing::ChildProcess> replicas[3];
  for (int r : {0, 2}) {
    auto started = start(r);
    ASSERT_TRUE(started.ok()) << started.status();
    replicas[r] = std::move(started).value();
  }
  std::this_thread::sleep_for(milliseconds(3000));
  auto intact = start(1);
  ASSERT_TRUE(intact.ok()) << intact.status();
  replicas[1] = std::move(intact).value();
  // Each replica's gRPC address, from its ready line.
  std::vector<std::string> addresses(3);
  for (int i = 0; i < 600; ++i) {
    bool all = true;
    for (int r = 0; r < 3; ++r) {
      const std::string out = replicas[r]->Stdout();
      const size_t at = out.find("ready port=");
      if (at != std::string::npos && addresses[r].empty()) {
        addresses[r] = "127.0.0.1:" + std::to_string(std::atoi(out.c_str() + at + 11));
      }
      all = all && !addresses[r].empty();
    }
    if (all) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  for (int r = 0; r < 3; ++r) {
    ASSERT_FALSE(addresses[r].empty()) << "rep-" << r << " is not ready:\n" << replicas[r]->Log();
  }
  // Every replica, the intact one included, has every document.
  std::vector<std::string> counts;
  for (int i = 0; i < 300; ++i) {
    counts.clear();
    for (const std::string& address : addresses) counts.push_back(CountOf(address));
    if (counts == std::vector<std::string>(3, std::to_string(kDocs))) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_THAT(counts, ::testing::Each(std::to_string(kDocs)));
}

TEST(RaftStateFaultTest, ATruncatedRaftDbStopsOnlyThatReplica) {
  const std::filesystem::path workspace = FreshDir("truncated");
  {
    Deployment dep(Indexer("cut", workspace));
    ASSERT_TRUE(dep.Start().ok());
    ASSERT_NO_FATAL_FAILURE(WriteDocs(dep, "doc"));
    ASSERT_THAT(WaitForCounts(dep, {true, true, true}, std::to_string(kDocs)),
                ::testing::Each(std::to_string(kDocs)));
  }
  const std::filesystem::path db = RaftDb(workspace, "cut", 1);
  ASSERT_GT(std::filesystem::file_size(db), 3u * 4096);
  std::filesystem::resize_file(db, 3 * 4096);
  Deployment again(Indexer("cut", workspace));
  Status started = again.Start();
  ASSERT_TRUE(started.ok()) << "two healthy replicas of three must serve: " << started;
  EXPECT_EQ(again.replica_pid(0, 1), -1) << "the damaged replica must be left stopped";
  EXPECT_THAT(WaitForCounts(again, {true, false, true}, std::to_string(kDocs)),
              ::testing::ElementsAre(std::to_string(kDocs), "stopped", std::to_string(kDocs)));
  ASSERT_NO_FATAL_FAILURE(WriteDocs(again, "after"));
  again.Stop();
  // Recovery: the damaged state is moved aside and the replica rejoins from the others.
  auto reset = testing::ChildProcess::Start({testing::ShoalBinary(), "raft", "reset-state",
                                             "--workspace", (workspace / "cut" / "rep-1").string()},
                                            /*wait_ready=*/false);
  ASSERT_TRUE(reset.ok()) << reset.status();
  ASSERT_EQ((*reset)->Wait(milliseconds(30000)), 0) << (*reset)->Log();
  EXPECT_FALSE(std::filesystem::exists(db));
  Deployment recovered(Indexer("cut", workspace));
  ASSERT_TRUE(recovered.Start().ok());
  EXPECT_THAT(WaitForCounts(recovered, {true, true, true}, std::to_string(2 * kDocs)),
              ::testing::Each(std::to_string(2 * kDocs)));
}

TEST(RaftStateFaultTest, AFlippedByteInALogEntryIsNeverApplied) {
  const std::filesystem::path workspace = FreshDir("flipped");
  const std::string marker = "flip-marker-c41d";
  {
    Deployment dep(Indexer("flip", workspace));
    ASSERT_TRUE(dep.Start().ok());
    ASSERT_NO_FATAL_FAILURE(WriteDocs(dep, marker));
    ASSERT_THAT(WaitForCounts(dep, {true, true, true}, std::to_string(kDocs)),
                ::testing::Each(std::to_string(kDocs)));
  }
  // One byte of one doc's text, wherever replica 1's raft.db holds it.
  const std::filesystem::path db = RaftDb(workspace, "flip", 1);
  std::string bytes;
  {
    std::ifstream in(db, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string text = marker + "-17";
  int flipped = 0;
  for (size_t at = bytes.find(text); at != std::string::npos; at = bytes.find(text, at + 1)) {
    bytes[at + 2] ^= 0x20;
    ++flipped;
  }
  ASSERT_GT(flipped, 0) << "the doc's text is not in " << db;
  {
    std::ofstream out(db, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  Deployment again(Indexer("flip", workspace));
  Status started = again.Start();
  ASSERT_TRUE(started.ok()) << "two healthy replicas of three must serve: " << started;
  // Replica 1 replays its log up to the damaged entry and stops there; it never serves the
  // damaged document.
  for (int i = 0; i < 300 && again.replica_pid(0, 1) != -1; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(again.replica_pid(0, 1), -1) << "the replica with the damaged entry still runs";
  EXPECT_THAT(WaitForCounts(again, {true, false, true}, std::to_string(kDocs)),
              ::testing::ElementsAre(std::to_string(kDocs), "stopped", std::to_string(kDocs)));
}

TEST(RaftStateFaultTest, ASecondDeploymentOnAWorkspaceInUseFailsNamingTheProcess) {
  const std::filesystem::path workspace = FreshDir("in-use");
  Deployment first(Indexer("busy", workspace));
  ASSERT_TRUE(first.Start().ok());
  Deployment second(Indexer("busy", workspace));
  const auto begin = std::chrono::steady_clock::now();
  Status started = second.Start();
  const auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.code(), absl::StatusCode::kDeadlineExceeded) << started;
  const std::string message(started.message());
  EXPECT_THAT(message, HasSubstr("in use by process "));
  EXPECT_THAT(message, HasSubstr((workspace / "busy").string()));
  bool names_a_replica = false;
  for (int r = 0; r < 3; ++r) {
    names_a_replica = names_a_replica || message.find("process " +
                                                      std::to_string(first.replica_pid(0, r))) !=
                                             std::string::npos;
  }
  EXPECT_TRUE(names_a_replica) << message;
  std::cout << "the second Deployment failed after "
            << std::chrono::duration_cast<milliseconds>(took).count() << " ms: " << message
            << std::endl;
  // The first one still serves.
  ASSERT_NO_FATAL_FAILURE(WriteDocs(first, "still"));
}

}  // namespace
}  // namespace shoal
