// Fault tests of a stateful Deployment's Raft state on disk: workspaces wiped, raft.db truncated,
// a byte of a log entry flipped, a workspace used by two Deployments. Real replica processes of
// ExactNNIndexer; every wait is bounded. Whatever happens, no replica may silently serve lost or
// damaged data: either every replica has every acknowledged write, or the damaged replica stops
// with an error naming what is wrong.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/deployment.h"
#include "tests/integration/child_process.h"
#include "tests/integration/flow_nodes.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr int kDim = 4;
constexpr int kDocs = 30;
// testing::StatefulIndexer without its bound on each attempt, ready within 30 s.
DeploymentOptions Indexer(const std::string& name, const std::filesystem::path& workspace) {
  DeploymentOptions options = testing::StatefulIndexer(name, workspace);
  options.timeout_send_ms = DeploymentOptions().timeout_send_ms;
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
  const testing::TempDir tmp("raft-state-wipe-two");
  const std::filesystem::path workspace = tmp.path();
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

// Starts `shoal executor` as Raft member rep-<r> of group `name` (its workspace under
// `workspace`), without waiting for its ready line.
std::unique_ptr<testing::ChildProcess> StartMember(const std::filesystem::path& workspace,
                                                   const std::string& group, int r,
                                                   const std::vector<std::string>& ports,
                                                   std::vector<std::string> extra = {}) {
  std::string peers;
  for (size_t m = 0; m < ports.size(); ++m) {
    absl::StrAppend(&peers, m == 0 ? "" : ",", "rep-", m, "=127.0.0.1:", ports[m]);
  }
  const std::string name = group + "/rep-" + std::to_string(r);
  std::vector<std::string> argv = {testing::ShoalBinary(),
                                   "executor",
                                   "--uses",
                                   "ExactNNIndexer",
                                   "--uses-with",
                                   R"({"metric": "l2"})",
                                   "--name",
                                   name,
                                   "--host",
                                   "127.0.0.1",
                                   "--port",
                                   "0",
                                   "--workspace",
                                   (workspace / name).string(),
                                   "--stateful",
                                   "--raft-id",
                                   "rep-" + std::to_string(r),
                                   "--raft-address",
                                   "127.0.0.1:" + ports[r],
                                   "--raft-configuration",
                                   testing::kFastRaftConfiguration,
                                   "--raft-peers",
                                   peers,
                                   "--timeout-ready",
                                   "30000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto started = testing::ChildProcess::Start(argv, /*wait_ready=*/false);
  EXPECT_TRUE(started.ok()) << started.status();
  return started.ok() ? std::move(started).value() : nullptr;
}

// Each member's gRPC address, from its ready line (bounded wait); empty for one not ready.
std::vector<std::string> ReadyAddresses(
    const std::vector<std::unique_ptr<testing::ChildProcess>>& members) {
  std::vector<std::string> addresses(members.size());
  for (int i = 0; i < 600; ++i) {
    bool all = true;
    for (size_t r = 0; r < members.size(); ++r) {
      const std::string out = members[r] != nullptr ? members[r]->Stdout() : "";
      const size_t at = out.find("ready port=");
      if (at != std::string::npos && addresses[r].empty()) {
        addresses[r] = "127.0.0.1:" + std::to_string(std::atoi(out.c_str() + at + 11));
      }
      all = all && !addresses[r].empty();
    }
    if (all) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return addresses;
}

// Waits (bounded) until every address reports `count`; returns the counts.
std::vector<std::string> CountsAt(const std::vector<std::string>& addresses,
                                  const std::string& count) {
  std::vector<std::string> counts;
  for (int i = 0; i < 300; ++i) {
    counts.clear();
    for (const std::string& address : addresses) counts.push_back(CountOf(address));
    if (counts == std::vector<std::string>(addresses.size(), count)) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return counts;
}

// Two workspaces wiped and the third one's raft.db damaged: no replica has usable state, and
// the wiped ones cannot tell whether the group is new. The start fails, naming the replicas.
TEST(RaftStateFaultTest, WithNoSafeChoiceTheStartFailsNamingTheReplicas) {
  const testing::TempDir tmp("raft-state-no-choice");
  const std::filesystem::path workspace = tmp.path();
  {
    Deployment dep(Indexer("none", workspace));
    ASSERT_TRUE(dep.Start().ok());
    ASSERT_NO_FATAL_FAILURE(WriteDocs(dep, "doc"));
  }
  std::filesystem::remove_all(workspace / "none" / "rep-0");
  std::filesystem::remove_all(workspace / "none" / "rep-2");
  std::filesystem::resize_file(RaftDb(workspace, "none", 1), 3 * 4096);
  DeploymentOptions options = Indexer("none", workspace);
  options.timeout_ready_ms = 8000;
  Deployment again(options);
  Status started = again.Start();
  ASSERT_FALSE(started.ok());
  const std::string message(started.message());
  EXPECT_THAT(message, HasSubstr("has no Raft state and cannot tell whether its group is new"));
  EXPECT_THAT(message, HasSubstr("rep-1 (127.0.0.1:"));
  EXPECT_THAT(message, HasSubstr("did not answer"));
  // And why rep-1 did not: its damaged raft.db.
  EXPECT_THAT(message, HasSubstr("rep-1/raft/raft.db is damaged"));
  std::cout << message << std::endl;
}

// The hostile order: the wiped replicas come back first and the intact one seconds later (a
// slow disk, a slow Executor). Run as `shoal executor` processes, so that the order is exact.
TEST(RaftStateFaultTest, WipedReplicasStartedBeforeTheIntactOneDoNotStartAnEmptyGroup) {
  const testing::TempDir tmp("raft-state-wipe-first");
  const std::filesystem::path workspace = tmp.path();
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
  std::vector<std::unique_ptr<testing::ChildProcess>> members(3);
  for (int r : {0, 2}) members[r] = StartMember(workspace, "early", r, ports);
  std::this_thread::sleep_for(milliseconds(3000));
  members[1] = StartMember(workspace, "early", 1, ports);
  const std::vector<std::string> addresses = ReadyAddresses(members);
  for (int r = 0; r < 3; ++r) {
    ASSERT_FALSE(addresses[r].empty()) << "rep-" << r << " is not ready:\n" << members[r]->Log();
  }
  // Every replica, the intact one included, has every document.
  EXPECT_THAT(CountsAt(addresses, std::to_string(kDocs)), ::testing::Each(std::to_string(kDocs)));
}

// `shoal executor --raft-tls-*`: a group whose members talk mutual TLS commits writes.
TEST(RaftStateFaultTest, MembersWithMutualTlsReplicateWrites) {
  const testing::TempDir tmp("raft-state-mtls");
  const std::filesystem::path workspace = tmp.path();
  std::vector<std::string> ports;
  for (int r = 0; r < 3; ++r) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
    ports.push_back(std::to_string(ntohs(address.sin_port)));
    close(fd);
  }
  const std::filesystem::path certs =
      std::filesystem::path(SHOAL_SOURCE_DIR) / "tests" / "unit" / "consensus" / "testdata";
  const std::vector<std::string> tls = {
      "--raft-tls-certfile", (certs / "raft-member.pem").string(),
      "--raft-tls-keyfile",  (certs / "raft-member-key.pem").string(),
      "--raft-tls-cafile",   (certs / "raft-ca.pem").string()};
  std::vector<std::unique_ptr<testing::ChildProcess>> members(3);
  for (int r = 0; r < 3; ++r) members[r] = StartMember(workspace, "tls", r, ports, tls);
  const std::vector<std::string> addresses = ReadyAddresses(members);
  for (int r = 0; r < 3; ++r) {
    ASSERT_FALSE(addresses[r].empty()) << "rep-" << r << " is not ready:\n" << members[r]->Log();
  }
  // A plain TCP peer gets no answer on a member's Raft port (here: the state query a member
  // without TLS would send).
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(std::stoi(ports[0])));
    timeval wait{.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_EQ(write(fd, "S", 1), 1);
    char answer[64] = {};
    const ssize_t n = read(fd, answer, sizeof(answer));
    close(fd);
    EXPECT_FALSE(n > 0 && answer[0] == '{') << "a plain TCP peer was answered: " << answer;
  }
  // Writes go to whichever member leads (followers refuse them).
  for (int k = 0; k < kDocs; ++k) {
    DocList docs;
    docs.Add().set_embedding(std::vector<float>(kDim, static_cast<float>(k)));
    bool written = false;
    for (int attempt = 0; attempt < 100 && !written; ++attempt) {
      auto client = Client::Connect(addresses[attempt % 3]);
      written = client.ok() &&
                client->Post("/index", docs, {.stream = false, .timeout = milliseconds(5000)}).ok();
      if (!written) std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_TRUE(written) << "doc " << k;
  }
  EXPECT_THAT(CountsAt(addresses, std::to_string(kDocs)), ::testing::Each(std::to_string(kDocs)));
}

TEST(RaftStateFaultTest, ATruncatedRaftDbStopsOnlyThatReplica) {
  const testing::TempDir tmp("raft-state-truncated");
  const std::filesystem::path workspace = tmp.path();
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
  const testing::TempDir tmp("raft-state-flipped");
  const std::filesystem::path workspace = tmp.path();
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
  const testing::TempDir tmp("raft-state-in-use");
  const std::filesystem::path workspace = tmp.path();
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
    names_a_replica =
        names_a_replica ||
        message.find("process " + std::to_string(first.replica_pid(0, r))) != std::string::npos;
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
