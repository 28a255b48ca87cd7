// Prometheus metrics of real processes on 127.0.0.1: a `shoal executor` with --port-monitoring
// counts its requests per endpoint, and a `shoal deployment` with port_monitoring serves its
// router's metrics per replica; both are scraped with curl.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/client.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

DocList TextDocs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text("doc-" + std::to_string(i));
  return docs;
}

// The port of the first "<what> on <host>:<port>" line in `log`; 0 when there is none.
int LoggedMetricsPort(const std::string& log) {
  std::smatch match;
  if (!std::regex_search(log, match, std::regex("metrics on [0-9.]+:([0-9]+)"))) return 0;
  return std::stoi(match[1]);
}

std::string Scrape(int port) {
  return testing::Curl("http://127.0.0.1:" + std::to_string(port) + "/metrics");
}

// The IPv4 address a TCP socket listens on at `port` ("0.0.0.0" for every interface), from
// /proc/net/tcp; "" when none listens there.
std::string ListeningAddress(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state != "0A" || local.size() != 13) continue;  // 0A: LISTEN; AABBCCDD:PPPP
    if (std::stoi(local.substr(9), nullptr, 16) != port) continue;
    const unsigned long ip = std::stoul(local.substr(0, 8), nullptr, 16);  // little endian
    return absl::StrCat(ip & 0xff, ".", (ip >> 8) & 0xff, ".", (ip >> 16) & 0xff, ".", ip >> 24);
  }
  return "";
}

TEST(MetricsProcessTest, ExecutorCountsRequestsPerEndpoint) {
  auto replica = testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo",
                                               "--name", "echo/rep-0", "--host", "127.0.0.1",
                                               "--port", "0", "--port-monitoring", "0"});
  ASSERT_TRUE(replica.ok()) << replica.status();
  int metrics_port = LoggedMetricsPort((*replica)->Log());
  ASSERT_GT(metrics_port, 0) << (*replica)->Log();
  // The ready line is still the only line on stdout.
  EXPECT_EQ((*replica)->Stdout(), "ready port=" + std::to_string((*replica)->port()) + "\n");

  auto client = Client::Connect((*replica)->address());
  ASSERT_TRUE(client.ok()) << client.status();
  auto docs = client->Post("/x", TextDocs(3), {.request_size = 1, .stream = false});
  ASSERT_TRUE(docs.ok()) << docs.status() << (*replica)->Log();

  std::string text = Scrape(metrics_port);
  const std::string labels = "{deployment=\"echo\",endpoint=\"/default\",replica=\"echo/rep-0\"}";
  EXPECT_THAT(text, HasSubstr("shoal_replica_requests_total" + labels + " 3\n")) << text;
  EXPECT_THAT(text, HasSubstr("shoal_replica_failures_total" + labels + " 0\n")) << text;
  EXPECT_THAT(text, HasSubstr("shoal_replica_request_duration_seconds_count" + labels + " 3\n"))
      << text;
  EXPECT_THAT(text, HasSubstr("shoal_replica_in_flight{deployment=\"echo\","
                              "replica=\"echo/rep-0\"} 0\n"))
      << text;
}

// The HTTP status code curl got for `path` on the port ("000" when nothing answered).
std::string StatusCode(int port, const std::string& path, const std::string& args = "") {
  return testing::Curl("-o /dev/null -w '%{http_code}' " + args +
                       " 'http://127.0.0.1:" + std::to_string(port) + path + "'");
}

// Any path but /metrics used to crash the process inside civetweb's error page.
TEST(MetricsProcessTest, OtherPathsAndMethodsAreRefusedAndTheReplicaKeepsServing) {
  auto replica = testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo",
                                               "--name", "probed/rep-0", "--host", "127.0.0.1",
                                               "--port", "0", "--port-monitoring", "0"});
  ASSERT_TRUE(replica.ok()) << replica.status();
  int metrics_port = LoggedMetricsPort((*replica)->Log());
  ASSERT_GT(metrics_port, 0) << (*replica)->Log();

  EXPECT_EQ(StatusCode(metrics_port, "/"), "404") << (*replica)->Log();
  EXPECT_EQ(StatusCode(metrics_port, "/nope?x=1"), "404") << (*replica)->Log();
  EXPECT_EQ(StatusCode(metrics_port, "/metrics", "-X DELETE"), "405");
  EXPECT_EQ(StatusCode(metrics_port, "/metrics", "-H 'X-Big: " + std::string(20000, 'a') + "'"),
            "431");
  EXPECT_EQ(StatusCode(metrics_port, "/metrics", "-I"), "200");

  // Still alive: /metrics answers and the replica serves a request.
  auto client = Client::Connect((*replica)->address());
  ASSERT_TRUE(client.ok()) << client.status();
  auto docs = client->Post("/x", TextDocs(2), {.request_size = 1, .stream = false});
  ASSERT_TRUE(docs.ok()) << docs.status() << (*replica)->Log();
  EXPECT_THAT(Scrape(metrics_port),
              HasSubstr("shoal_replica_requests_total{deployment=\"probed\""));
  EXPECT_EQ((*replica)->Wait(std::chrono::milliseconds(0)), std::nullopt) << (*replica)->Log();
}

// A stateful replica (a one-member Raft group) reports its Raft role, term and indexes.
TEST(MetricsProcessTest, StatefulReplicaReportsItsRaftState) {
  const testing::TempDir tmp("metrics-raft");
  const std::filesystem::path workspace = tmp.path();
  auto replica = testing::ChildProcess::Start({testing::ShoalBinary(),
                                               "executor",
                                               "--uses",
                                               "Counter",
                                               "--name",
                                               "kept/rep-0",
                                               "--host",
                                               "127.0.0.1",
                                               "--port",
                                               "0",
                                               "--port-monitoring",
                                               "0",
                                               "--workspace",
                                               workspace.string(),
                                               "--stateful",
                                               "--raft-id",
                                               "rep-0",
                                               "--raft-address",
                                               "127.0.0.1:0",
                                               "--raft-configuration",
                                               R"({"LogLevel": "WARN"})"});
  ASSERT_TRUE(replica.ok()) << replica.status();
  int metrics_port = LoggedMetricsPort((*replica)->Log());
  ASSERT_GT(metrics_port, 0) << (*replica)->Log();
  auto client = Client::Connect((*replica)->address());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(client->Post("/index", TextDocs(4), {.request_size = 1, .stream = false}).ok());

  std::string text = Scrape(metrics_port);
  const std::string labels = "deployment=\"kept\",replica=\"kept/rep-0\"";
  EXPECT_THAT(text, HasSubstr("# TYPE shoal_raft_role gauge\n")) << text;
  EXPECT_THAT(text, HasSubstr("shoal_raft_role{" + labels + ",role=\"leader\"} 1\n")) << text;
  EXPECT_THAT(text, HasSubstr("shoal_raft_role{" + labels + ",role=\"follower\"} 0\n")) << text;
  std::smatch match;
  ASSERT_TRUE(
      std::regex_search(text, match, std::regex("shoal_raft_applied_index\\{[^}]*\\} ([0-9]+)")))
      << text;
  EXPECT_GE(std::stoi(match[1]), 4);  // the configuration, a barrier, then the 4 writes
  EXPECT_THAT(text, HasSubstr("shoal_raft_term{" + labels + "} ")) << text;
  EXPECT_THAT(text, HasSubstr("shoal_raft_commit_index{" + labels + "} ")) << text;
  (*replica)->Signal(SIGTERM);
  EXPECT_EQ((*replica)->Wait(std::chrono::seconds(20)), 0);
}

TEST(MetricsProcessTest, DeploymentServesRouterMetricsAndReplicasServeTheirOwn) {
  const testing::TempDir tmp("metrics");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "dep.yml") << "jtype: Deployment\nwith:\n  name: counted\n  uses: Echo\n"
                                    "  replicas: 2\n  host: 127.0.0.1\n  port_monitoring: 0\n";
  auto orchestrator = testing::ChildProcess::Start({testing::ShoalBinary(), "deployment", "--uses",
                                                    (dir / "dep.yml").string(), "--host",
                                                    "127.0.0.1", "--port", "0"});
  ASSERT_TRUE(orchestrator.ok()) << orchestrator.status();
  std::string log = (*orchestrator)->Log();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(log, match,
                                std::regex("Deployment 'counted': metrics on [0-9.]+:([0-9]+)")))
      << log;
  int router_port = std::stoi(match[1]);
  // The Deployment's metrics listen where its gateway does (here loopback only), not on every
  // interface.
  EXPECT_EQ(ListeningAddress(router_port), "127.0.0.1") << log;

  // The router's attempts per replica, before and after 4 requests (the gateway's endpoint
  // discovery at start is an attempt too).
  std::regex series(
      "shoal_router_requests_total\\{deployment=\"counted\","
      "replica=\"127\\.0\\.0\\.1:[0-9]+\"\\} ([0-9]+)\n");
  auto sum = [&](const std::string& text, int* replicas) {
    int total = 0;
    *replicas = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), series);
         it != std::sregex_iterator(); ++it) {
      total += std::stoi((*it)[1]);
      ++*replicas;
    }
    return total;
  };
  int replicas = 0;
  int before = sum(Scrape(router_port), &replicas);

  auto client = Client::Connect((*orchestrator)->address());
  ASSERT_TRUE(client.ok()) << client.status();
  auto docs = client->Post("/x", TextDocs(4), {.request_size = 1, .stream = false});
  ASSERT_TRUE(docs.ok()) << docs.status() << log;

  std::string text = Scrape(router_port);
  EXPECT_EQ(sum(text, &replicas) - before, 4) << text;
  EXPECT_EQ(replicas, 2) << text;  // one series per replica address

  // Each replica logged a metrics port of its own (through the orchestrator's log prefix, which
  // may forward a replica's stderr a little after its ready line).
  std::regex replica_line("counted/rep-[01]@[0-9]+ .*metrics on 127\\.0\\.0\\.1:([0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    log = (*orchestrator)->Log();
    auto lines = std::sregex_iterator(log.begin(), log.end(), replica_line);
    if (std::distance(lines, std::sregex_iterator()) >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  int replica_requests = 0;
  int replica_ports = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), replica_line);
       it != std::sregex_iterator(); ++it) {
    ++replica_ports;
    std::smatch count;
    std::string scraped = Scrape(std::stoi((*it)[1]));
    if (std::regex_search(scraped, count,
                          std::regex("shoal_replica_requests_total\\{deployment=\"counted\"[^}]*"
                                     "\\} ([0-9]+)\n"))) {
      replica_requests += std::stoi(count[1]);
    }
  }
  EXPECT_EQ(replica_ports, 2) << log;
  EXPECT_EQ(replica_requests, 4) << log;
}

}  // namespace
}  // namespace shoal
