// DNS discovery: a gateway given `dns:///replicas.shoal.test:<port>` follows the addresses the
// name resolves to while a load runs. The resolver is one the test controls: the gateway runs in
// its own mount namespace (unshare) where a file of the test's is bind-mounted over /etc/hosts,
// and the test rewrites that file to add and remove replicas. Needs root (CAP_SYS_ADMIN); skipped
// with a message where mount namespaces cannot be made.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/client.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using ::shoal::testing::WaitFor;
using std::chrono::milliseconds;

constexpr char kName[] = "replicas.shoal.test";

// Rewrites the hosts file in place: the bind mount follows the inode, not the name.
void WriteHosts(const std::filesystem::path& file, const std::vector<std::string>& ips) {
  std::ofstream out(file, std::ios::trunc);
  out << "127.0.0.1 localhost\n";
  for (const std::string& ip : ips) out << ip << " " << kName << "\n";
}

int64_t Processed(const std::string& address) {
  std::map<std::string, std::string> info = testing::ReplicaInfo(address);
  auto it = info.find("processed_requests");
  return it == info.end() ? -1 : std::stoll(it->second);
}

bool MountNamespacesWork(std::string* why) {
  if (geteuid() != 0) {
    *why = "not root: the gateway's private /etc/hosts needs a mount namespace";
    return false;
  }
  if (std::system("unshare --mount --propagation private true >/dev/null 2>&1") != 0) {
    *why = "`unshare --mount` failed: no mount namespaces here";
    return false;
  }
  return true;
}

class DnsDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!MountNamespacesWork(&why)) GTEST_SKIP() << why;
    tmp_.emplace("dns");
    dir_ = tmp_->path();
  }
  std::optional<testing::TempDir> tmp_;
  std::filesystem::path dir_;
};

TEST_F(DnsDiscoveryTest, TheGatewayFollowsReplicasAddedToAndRemovedFromTheName) {
  // Two replicas on two loopback addresses, one port.
  auto first =
      testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo", "--name",
                                    "r/rep-0", "--host", "127.0.0.2", "--port", "0"});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string port = std::to_string((*first)->port());
  auto second =
      testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo", "--name",
                                    "r/rep-1", "--host", "127.0.0.3", "--port", port});
  ASSERT_TRUE(second.ok()) << second.status();
  const std::string a = "127.0.0.2:" + port, b = "127.0.0.3:" + port;

  const std::filesystem::path hosts = dir_ / "hosts";
  WriteHosts(hosts, {"127.0.0.2"});
  const std::filesystem::path flow = dir_ / "flow.yml";
  std::ofstream(flow) << "jtype: Flow\nexecutors:\n  - name: r\n    uses: Echo\n";
  const std::string addresses = std::string(R"({"r": ["dns:///)") + kName + ":" + port + R"("]})";
  auto gateway = testing::ChildProcess::Start(
      {"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
       "mount --bind \"$0\" /etc/hosts && exec \"$1\" gateway --uses \"$2\" "
       "--deployments-addresses \"$3\" --host 127.0.0.1 --port 0",
       hosts.string(), testing::ShoalBinary(), flow.string(), addresses});
  ASSERT_TRUE(gateway.ok()) << gateway.status();

  // A load through the gateway for the whole test.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::string last_error;
  std::thread load([&] {
    auto client = Client::Connect((*gateway)->address());
    if (!client.ok()) {
      last_error = client.status().ToString();
      failed = 1;
      return;
    }
    DocList docs;
    docs.Add().set_text("x");
    // Bounded: at most 100,000 requests.
    for (int i = 0; i < 100000 && !stop; ++i) {
      auto answer = client->Post("/echo", docs, {.stream = false, .timeout = milliseconds(10000)});
      ++sent;
      if (!answer.ok()) {
        ++failed;
        last_error = answer.status().ToString();
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
  });

  EXPECT_TRUE(WaitFor([&] { return Processed(a) > 10; })) << "the first replica got nothing";
  EXPECT_EQ(Processed(b), 0);

  // Added to the name: the second replica gets requests too.
  WriteHosts(hosts, {"127.0.0.2", "127.0.0.3"});
  EXPECT_TRUE(WaitFor([&] { return Processed(b) > 10; })) << "the added replica got nothing";

  // Removed from the name: the first one gets no more, and may then go away.
  WriteHosts(hosts, {"127.0.0.3"});
  bool drained = WaitFor([&] {
    const int64_t before_a = Processed(a), before_b = Processed(b);
    std::this_thread::sleep_for(milliseconds(1500));  // longer than a re-resolution round
    return Processed(a) == before_a && Processed(b) > before_b;
  });
  EXPECT_TRUE(drained) << "the removed replica still gets requests";
  (*first)->Signal(SIGTERM);
  EXPECT_TRUE((*first)->Wait(milliseconds(20000)).has_value());
  const int sent_before = sent;
  EXPECT_TRUE(WaitFor([&] { return sent > sent_before + 20; }));

  stop = true;
  load.join();
  EXPECT_EQ(failed, 0) << "of " << sent << " requests; last error: " << last_error;
  EXPECT_GT(sent, 0);
}

}  // namespace
}  // namespace shoal
