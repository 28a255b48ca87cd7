// Multi-host test of a stateful Deployment: four Linux network namespaces on one bridge stand for
// four hosts, the gateway's and one for each of the three Raft replicas of a Counter. Cutting one
// host's link must not stop writes or reads through the gateway, and the host must catch up once
// its link is back. Needs root (CAP_NET_ADMIN) and iproute2: skipped with a message where the
// namespaces cannot be made.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/client.h"
#include "tests/integration/child_process.h"
#include "tests/testing/leader_probe.h"

namespace shoal {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kReplicas = 3;
constexpr int kGrpcPort = 50051;
constexpr int kRaftPort = 7100;
constexpr char kRaftConfiguration[] =
    R"({"HeartbeatTimeout": 300, "ElectionTimeout": 300, "LeaderLeaseTimeout": 200,
        "CommitTimeout": 5, "LogLevel": "WARN"})";
// The gateway's Deployment: an attempt to a cut host gives up after timeout_send and the router
// tries another replica, for up to `retries` rounds (pauses included) while a leader is elected.
constexpr char kFlowYaml[] = R"(jtype: Flow
executors:
  - name: idx
    uses: Counter
    retries: 30
    timeout_send: 2000
)";

std::optional<std::string> IpBinary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return std::nullopt;
}

// Runs `ip <args>` (arguments are plain tokens: names, addresses) and returns its output; an error
// names the command, its exit status and its output.
StatusOr<std::string> RunIp(const std::string& ip, const std::vector<std::string>& args) {
  std::string command = ip;
  for (const std::string& arg : args) command += " " + arg;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot run `" + command + "`");
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError("`" + command + "` failed (wait status " + std::to_string(status) +
                               "): " + output);
  }
  return output;
}

// The count replica (or gateway) `address` answers to `/count`: a number, or "down"/"error".
std::string CountAt(const std::string& address) {
  auto client = Client::Connect(address, {.connect_timeout = milliseconds(2000)});
  if (!client.ok()) return "down";
  auto answer = client->Post("/count", DocList(), {.stream = false, .timeout = milliseconds(3000)});
  return answer.ok() && answer->size() == 1 ? std::string((*answer)[0].text()) : "error";
}

DocList Docs(int first, int n) {
  DocList docs;
  for (int i = first; i < first + n; ++i) docs.Add().set_text("doc-" + std::to_string(i));
  return docs;
}

class MultihostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> ip = IpBinary();
    Status made =
        ip.has_value() ? MakeNetwork(*ip) : absl::NotFoundError("`ip` (iproute2) is not installed");
    if (!made.ok()) {
      const std::string why = "cannot create the network namespaces for the multi-host test: " +
                              std::string(made.message());
      GTEST_SKIP() << why << " (needs root or CAP_NET_ADMIN, and iproute2)";
    }
    dir_ = std::filesystem::temp_directory_path() / ("shoal-multihost-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_NO_FATAL_FAILURE(StartReplicas());
    ASSERT_NO_FATAL_FAILURE(StartGateway());
  }

  void TearDown() override {
    if (HasFailure()) {
      for (size_t r = 0; r < replicas_.size(); ++r) {
        if (replicas_[r] != nullptr) {
          std::cout << "--- log of idx/rep-" << r << " ---\n" << replicas_[r]->Log();
        }
      }
      if (gateway_ != nullptr) std::cout << "--- log of the gateway ---\n" << gateway_->Log();
    }
    // The processes first (SIGKILL, by pid): a namespace lives on while a process is in it.
    replicas_.clear();
    gateway_.reset();
    // Deleting one end of a veth pair deletes both, at once (a namespace's links go
    // asynchronously after `ip netns del`).
    for (const std::string& veth : root_veths_) Cleanup({"link", "del", veth});
    for (const std::string& ns : namespaces_) Cleanup({"netns", "del", ns});
    if (!bridge_.empty()) Cleanup({"link", "del", bridge_});
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // Host h (0: the gateway, 1..3: replicas 0..2) has address 10.231.<subnet>.<h+1>.
  std::string HostAddress(int h) const {
    return "10.231." + std::to_string(subnet_) + "." + std::to_string(h + 1);
  }
  std::string ReplicaAddress(int r) const {
    return HostAddress(r + 1) + ":" + std::to_string(kGrpcPort);
  }

  // Cuts (or restores) the link of replica r's host: its veth, on the bridge side.
  void SetLink(int r, bool up) {
    auto done = RunIp(ip_, {"link", "set", root_veths_[r + 1], up ? "up" : "down"});
    ASSERT_TRUE(done.ok()) << done.status();
  }

  void Write(int first, int n) {
    auto client = Client::Connect(gateway_address_);
    ASSERT_TRUE(client.ok()) << client.status();
    auto written =
        client->Post("/index", Docs(first, n),
                     {.request_size = 1, .stream = false, .timeout = milliseconds(60000)});
    ASSERT_TRUE(written.ok()) << "writing docs " << first << ".." << first + n - 1
                              << " through the gateway: " << written.status();
  }

  // Waits (bounded in rounds and time) until every replica in `replicas` reports `expected`.
  bool Converge(const std::vector<int>& replicas, int expected,
                std::vector<std::string>* last = nullptr) {
    std::vector<std::string> counts;
    auto deadline = steady_clock::now() + std::chrono::seconds(60);
    for (int round = 0; round < 600 && steady_clock::now() < deadline; ++round) {
      counts.clear();
      for (int r : replicas) counts.push_back(CountAt(ReplicaAddress(r)));
      if (std::all_of(counts.begin(), counts.end(),
                      [&](const std::string& c) { return c == std::to_string(expected); })) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    if (last != nullptr) *last = counts;
    return false;
  }

  // The replica that accepts an empty write sent to it alone (followers refuse writes); -1 when
  // none does within the bounded rounds.
  int FindLeader() {
    std::vector<std::string> addresses;
    for (int r = 0; r < kReplicas; ++r) addresses.push_back(ReplicaAddress(r));
    return testing::FindLeader(addresses);
  }

  // Writes kBefore docs, cuts replica `cut`'s host, writes kDuring more and reads through the
  // gateway, restores the link, and checks that the host catches up and takes part again.
  void CutAndRestore(int cut) {
    constexpr int kBefore = 20, kDuring = 20, kAfter = 10;
    std::vector<std::string> counts;
    ASSERT_NO_FATAL_FAILURE(Write(0, kBefore));
    ASSERT_TRUE(Converge({0, 1, 2}, kBefore, &counts)) << ::testing::PrintToString(counts);

    std::cout << "cutting the link of idx/rep-" << cut << " (" << HostAddress(cut + 1) << ")"
              << std::endl;
    ASSERT_NO_FATAL_FAILURE(SetLink(cut, /*up=*/false));
    // The cut is real: the replica cannot be reached from outside its host.
    std::string cut_count = CountAt(ReplicaAddress(cut));
    EXPECT_TRUE(cut_count == "down" || cut_count == "error") << cut_count;
    // Writes go on (the router gives up on the cut host after timeout_send and tries the others,
    // which elect a leader between them when the leader was cut)...
    ASSERT_NO_FATAL_FAILURE(Write(kBefore, kDuring));
    // ...and so do reads; any reachable replica may answer, having at least the writes
    // acknowledged before the cut.
    auto client = Client::Connect(gateway_address_);
    ASSERT_TRUE(client.ok()) << client.status();
    for (int i = 0; i < 5; ++i) {
      auto answer =
          client->Post("/count", DocList(), {.stream = false, .timeout = milliseconds(30000)});
      ASSERT_TRUE(answer.ok()) << "read " << i << " through the gateway: " << answer.status();
      ASSERT_EQ(answer->size(), 1u);
      int count = std::stoi(std::string((*answer)[0].text()));
      EXPECT_GE(count, kBefore);
      EXPECT_LE(count, kBefore + kDuring);
    }
    std::vector<int> others;
    for (int r = 0; r < kReplicas; ++r) {
      if (r != cut) others.push_back(r);
    }
    EXPECT_TRUE(Converge(others, kBefore + kDuring, &counts)) << ::testing::PrintToString(counts);

    std::cout << "restoring the link of idx/rep-" << cut << std::endl;
    ASSERT_NO_FATAL_FAILURE(SetLink(cut, /*up=*/true));
    EXPECT_TRUE(Converge({0, 1, 2}, kBefore + kDuring, &counts))
        << "idx/rep-" << cut << " did not catch up: " << ::testing::PrintToString(counts);
    // And the group of three takes writes again, the rejoined host included.
    ASSERT_NO_FATAL_FAILURE(Write(kBefore + kDuring, kAfter));
    EXPECT_TRUE(Converge({0, 1, 2}, kBefore + kDuring + kAfter, &counts))
        << ::testing::PrintToString(counts);
  }

 private:
  // Picks a free 10.231.X.0/24, then makes the bridge and four namespaces wired to it. Every
  // resource is recorded as soon as it exists, for TearDown.
  Status MakeNetwork(const std::string& ip) {
    ip_ = ip;
    SHOAL_ASSIGN_OR_RETURN(std::string in_use, RunIp(ip_, {"-4", "-o", "addr", "show"}));
    SHOAL_ASSIGN_OR_RETURN(std::string routes, RunIp(ip_, {"-4", "route", "show"}));
    in_use += routes;
    subnet_ = -1;
    for (int i = 0; i < 250 && subnet_ < 0; ++i) {
      int candidate = (getpid() + i) % 250 + 1;
      if (in_use.find("10.231." + std::to_string(candidate) + ".") == std::string::npos) {
        subnet_ = candidate;
      }
    }
    if (subnet_ < 0) return absl::ResourceExhaustedError("no free subnet in 10.231.0.0/16");
    // Names unique to this process and test: "sh" + pid (at most 7 digits) + the test's number
    // + 2 fits the 15 characters of an interface name.
    static int tests_run = 0;
    const std::string tag = "sh" + std::to_string(getpid()) + std::to_string(tests_run++ % 10);
    // The namespaces first: making one is what fails without privileges.
    for (int h = 0; h <= kReplicas; ++h) {
      std::string ns =
          "shoal-" + tag + (h == 0 ? std::string("-gw") : "-rep" + std::to_string(h - 1));
      SHOAL_RETURN_IF_ERROR(RunIp(ip_, {"netns", "add", ns}).status());
      namespaces_.push_back(ns);
    }
    SHOAL_RETURN_IF_ERROR(RunIp(ip_, {"link", "add", tag + "br", "type", "bridge"}).status());
    bridge_ = tag + "br";
    SHOAL_RETURN_IF_ERROR(
        RunIp(ip_, {"addr", "add", HostAddress(253) + "/24", "dev", bridge_}).status());
    SHOAL_RETURN_IF_ERROR(RunIp(ip_, {"link", "set", bridge_, "up"}).status());
    for (int h = 0; h <= kReplicas; ++h) {
      const std::string& ns = namespaces_[h];
      const std::string outside = tag + "r" + std::to_string(h);
      const std::string inside = tag + "n" + std::to_string(h);
      SHOAL_RETURN_IF_ERROR(RunIp(ip_, {"-n", ns, "link", "set", "lo", "up"}).status());
      SHOAL_RETURN_IF_ERROR(
          RunIp(ip_, {"link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns})
              .status());
      root_veths_.push_back(outside);
      SHOAL_RETURN_IF_ERROR(RunIp(ip_, {"link", "set", outside, "master", bridge_}).status());
      SHOAL_RETURN_IF_ERROR(RunIp(ip_, {"link", "set", outside, "up"}).status());
      SHOAL_RETURN_IF_ERROR(
          RunIp(ip_, {"-n", ns, "addr", "add", HostAddress(h) + "/24", "dev", inside}).status());
      SHOAL_RETURN_IF_ERROR(RunIp(ip_, {"-n", ns, "link", "set", inside, "up"}).status());
    }
    return absl::OkStatus();
  }

  void Cleanup(const std::vector<std::string>& args) {
    auto done = RunIp(ip_, args);
    if (!done.ok()) std::cout << "cleanup: " << done.status() << std::endl;
  }

  // `shoal <args>` in namespace `ns`. `ip netns exec` execs the command, so the child's pid is
  // the shoal process itself (checked in ExpectShoal). With SHOAL_PARENT_PID the replicas die
  // with this test process even if it is killed.
  StatusOr<std::unique_ptr<testing::ChildProcess>> StartIn(const std::string& ns,
                                                           std::vector<std::string> args,
                                                           bool wait_ready) {
    std::vector<std::string> argv = {ip_, "netns", "exec", ns, testing::ShoalBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::ChildProcess::Start(std::move(argv), wait_ready, std::chrono::seconds(60),
                                        {"SHOAL_PARENT_PID=" + std::to_string(getpid())});
  }

  // SIGKILL by the child's pid must reach shoal, not a wrapper.
  static void ExpectShoal(const testing::ChildProcess& child) {
    std::error_code error;
    std::filesystem::path exe =
        std::filesystem::read_symlink("/proc/" + std::to_string(child.pid()) + "/exe", error);
    std::filesystem::path shoal = std::filesystem::canonical(testing::ShoalBinary(), error);
    EXPECT_EQ(exe, shoal) << "pid " << child.pid() << " is not the shoal process";
  }

  void StartReplicas() {
    std::string peers;
    for (int r = 0; r < kReplicas; ++r) {
      if (r > 0) peers += ",";
      peers +=
          "rep-" + std::to_string(r) + "=" + HostAddress(r + 1) + ":" + std::to_string(kRaftPort);
    }
    // All three at once: none is ready before a quorum elected a leader.
    for (int r = 0; r < kReplicas; ++r) {
      std::filesystem::path workspace = dir_ / ("rep-" + std::to_string(r));
      std::filesystem::create_directories(workspace);
      const std::string id = "rep-" + std::to_string(r);
      const std::string host = HostAddress(r + 1);
      std::vector<std::string> args = {"executor", "--uses", "Counter", "--name", "idx/" + id};
      args.insert(args.end(), {"--host", host, "--port", std::to_string(kGrpcPort)});
      args.insert(args.end(), {"--stateful", "--workspace", workspace.string()});
      args.insert(args.end(), {"--raft-id", id, "--raft-peers", peers});
      args.insert(args.end(), {"--raft-address", host + ":" + std::to_string(kRaftPort)});
      args.insert(args.end(), {"--raft-configuration", kRaftConfiguration});
      auto child = StartIn(namespaces_[r + 1], std::move(args), /*wait_ready=*/false);
      ASSERT_TRUE(child.ok()) << child.status();
      replicas_.push_back(std::move(child).value());
    }
    auto deadline = steady_clock::now() + std::chrono::seconds(60);
    for (int r = 0; r < kReplicas; ++r) {
      testing::ChildProcess& child = *replicas_[r];
      bool ready = false;
      while (!ready && steady_clock::now() < deadline) {
        ready = child.Stdout().find("ready port=") != std::string::npos;
        if (!ready) {
          std::optional<int> exited = child.Wait(milliseconds(50));
          ASSERT_FALSE(exited.has_value()) << "idx/rep-" << r << " exited with "
                                           << exited.value_or(-1) << " before it was ready";
        }
      }
      ASSERT_TRUE(ready) << "idx/rep-" << r << " was not ready in 60 s";
      ExpectShoal(child);
    }
  }

  void StartGateway() {
    std::filesystem::path flow = dir_ / "flow.yml";
    std::ofstream(flow) << kFlowYaml;
    std::string addresses = R"({"idx": [)";
    for (int r = 0; r < kReplicas; ++r) {
      addresses += (r > 0 ? ", \"" : "\"") + ReplicaAddress(r) + "\"";
    }
    addresses += "]}";
    auto gateway = StartIn(namespaces_[0],
                           {"gateway", "--uses", flow.string(), "--deployments-addresses",
                            addresses, "--host", "0.0.0.0", "--port", "0"},
                           /*wait_ready=*/true);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(gateway).value();
    ASSERT_GT(gateway_->port(), 0);
    ExpectShoal(*gateway_);
    gateway_address_ = HostAddress(0) + ":" + std::to_string(gateway_->port());
  }

  std::string ip_;
  int subnet_ = 0;
  std::vector<std::string> namespaces_;  // [0] the gateway's, [1..3] replicas 0..2
  std::string bridge_;
  std::vector<std::string> root_veths_;  // the bridge side of each namespace's link, same order
  std::filesystem::path dir_;            // workspaces and the Flow YAML
  std::vector<std::unique_ptr<testing::ChildProcess>> replicas_;
  std::unique_ptr<testing::ChildProcess> gateway_;
  std::string gateway_address_;  // 10.231.X.1:<port>, as the test process reaches it
};

// The leader's host: the two others must elect a new leader, the gateway must give up the leader
// it learned, and the old leader, back with a stale term and log, must rejoin as a follower.
TEST_F(MultihostTest, CuttingTheLeadersHostKeepsWritesAndReadsGoingAndItCatchesUp) {
  int leader = FindLeader();
  ASSERT_GE(leader, 0) << "no replica accepts writes";
  CutAndRestore(leader);
}

// A follower's host: the leader keeps committing with the other follower, and the cut follower
// catches up from the leader's log when its link is back.
TEST_F(MultihostTest, CuttingAFollowersHostKeepsWritesAndReadsGoingAndItCatchesUp) {
  int leader = FindLeader();
  ASSERT_GE(leader, 0) << "no replica accepts writes";
  CutAndRestore((leader + 1) % kReplicas);
}

}  // namespace
}  // namespace shoal
