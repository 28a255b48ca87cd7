// Flows of real Deployments on 127.0.0.1: a diamond merges deterministically, a floating branch
// runs without delaying the answer, no_reduce hands the parts over, target_executor and
// Executor-specific parameters pick nodes, an Executor error short-circuits, the YAML forms run
// under `shoal flow`, and a Deployment that is down is named in the error.
#include "shoal/flow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/flow_nodes.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using testing::Curl;
using ::testing::HasSubstr;
using testing::Node;
using testing::Options;
using testing::ReplicaInfo;

int64_t Processed(const Flow& flow, const std::string& name) {
  int64_t total = 0;
  for (const auto& shard : flow.replica_addresses(name)) {
    for (const std::string& address : shard) {
      total += std::stoll(ReplicaInfo(address)["processed_requests"]);
    }
  }
  return total;
}

DocList Docs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text("doc-" + std::to_string(i));
  return docs;
}

TEST(FlowTest, DiamondMergesDeterministicallyInNeedsOrder) {
  Flow flow(Options());
  DeploymentOptions slow = Node("b", "Sleep", {"a"});
  slow.uses_with = R"({"ms": 20})";  // b answers after c, every time
  flow.Add(Node("a", "Echo"))
      .Add(std::move(slow))
      .Add(Node("c", "Echo", {"a"}))
      .Add(Node("d", "BaseExecutor", {"b", "c"}));
  ASSERT_TRUE(flow.Start().ok());
  for (int round = 0; round < 10; ++round) {
    DocList sent = Docs(3);
    auto docs = flow.Post("/x", sent, {.request_size = 3});
    ASSERT_TRUE(docs.ok()) << docs.status();
    ASSERT_EQ(docs->size(), 3u);  // merged by id: each doc once
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ((*docs)[i].id(), sent[i].id());
      // The later part in `needs` order wins a scalar conflict, whoever finished last.
      EXPECT_EQ((*docs)[i].GetText("served_by"), "c/rep-0");
    }
  }
  EXPECT_EQ(Processed(flow, "b"), 10);
  EXPECT_EQ(Processed(flow, "c"), 10);
}

// Flow::Scale (Jina's Flow.scale): the gateway sends to the replicas added, and stops sending to
// the replicas removed, while the Flow runs.
TEST(FlowTest, ScalingAnExecutorWhileTheFlowRuns) {
  Flow flow(Options());
  flow.Add(Node("enc", "Echo"));
  ASSERT_TRUE(flow.Start().ok());
  Status scaled = flow.Scale("enc", 3);
  ASSERT_TRUE(scaled.ok()) << scaled;
  ASSERT_EQ(flow.replica_addresses("enc")[0].size(), 3u);
  ASSERT_TRUE(flow.Post("/x", Docs(30), {.request_size = 1, .prefetch = 8}).ok());
  const std::vector<std::string> addresses = flow.replica_addresses("enc")[0];
  for (const std::string& address : addresses) {
    EXPECT_GT(std::stoll(ReplicaInfo(address)["processed_requests"]), 0) << address;
  }
  ASSERT_TRUE(flow.Scale("enc", 1).ok());
  ASSERT_EQ(flow.replica_addresses("enc")[0].size(), 1u);
  auto docs = flow.Post("/x", Docs(5), {.request_size = 1});
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->size(), 5u);
  EXPECT_EQ(flow.Scale("nobody", 2).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(flow.Scale("enc", 0).code(), absl::StatusCode::kInvalidArgument);
}

// A client's deadline (unary calls) or its cancel (a Call stream that the client gives up on)
// reaches the replica that runs the request: the Sleep asked for a minute stops, and the next
// request through the Flow is served at once. Before, the gateway's calls to the replica ran on.
class FlowDeadlineTest : public ::testing::TestWithParam<bool> {};

TEST_P(FlowDeadlineTest, TheClientsDeadlineReachesTheReplica) {
  const bool stream = GetParam();
  Flow flow(Options());
  flow.Add(Node("first", "Echo"));
  DeploymentOptions slow = Node("slow", "Sleep");
  slow.uses_with = R"({"ms": 60000})";
  flow.Add(slow);
  ASSERT_TRUE(flow.Start().ok());
  auto late =
      flow.Post("/x", Docs(1), {.stream = stream, .timeout = std::chrono::milliseconds(300)});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded) << late.status();
  auto next = flow.Post("/x", Docs(1),
                        {.parameters = *Params::FromJson(R"({"ms": 0})"),
                         .stream = stream,
                         .timeout = std::chrono::seconds(20)});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(Processed(flow, "slow"), 2);
}

INSTANTIATE_TEST_SUITE_P(Calls, FlowDeadlineTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Stream" : "Unary"; });

TEST(FlowTest, FloatingBranchRunsButTheAnswerDoesNotWaitForIt) {
  Flow flow(Options());
  DeploymentOptions floating = Node("audit", "Sleep", {"gateway"});
  floating.uses_with = R"({"ms": 3000})";
  floating.floating = true;
  flow.Add(Node("main", "Echo")).Add(std::move(floating));
  ASSERT_TRUE(flow.Start().ok());
  auto docs = flow.Post("/x", Docs(1));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ((*docs)[0].GetText("served_by"), "main/rep-0");
  // Answered before the floating branch finished the same request (which may still be on its way
  // to the branch's replica, or running there for 3 s).
  std::string audit = flow.replica_addresses("audit")[0][0];
  EXPECT_NE(ReplicaInfo(audit)["processed_requests"] + "/" + ReplicaInfo(audit)["pending_requests"],
            "1/0");
  bool ran = false;
  for (int i = 0; i < 500 && !ran; ++i) {
    ran = ReplicaInfo(audit)["processed_requests"] == "1" &&
          ReplicaInfo(audit)["pending_requests"] == "0";
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ran);
}

TEST(FlowTest, NoReduceHandsEveryPartToTheJoin) {
  Flow flow(Options());
  DeploymentOptions join = Node("join", "Echo", {"b", "c"});
  join.no_reduce = true;
  flow.Add(Node("b", "Echo", {"gateway"})).Add(Node("c", "Echo", {"gateway"})).Add(join);
  ASSERT_TRUE(flow.Start().ok());
  auto docs = flow.Post("/x", Docs(2));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->size(), 4u);  // the parts concatenated, not merged by id
}

TEST(FlowTest, TargetExecutorRunsOnlyMatchingNodes) {
  Flow flow(Options());
  flow.Add(Node("encoder", "Echo")).Add(Node("indexer", "Echo"));
  ASSERT_TRUE(flow.Start().ok());
  PostOptions options;
  options.target_executor = "enc";  // a prefix match, as Python's re.match
  auto docs = flow.Post("/x", Docs(1), options);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ((*docs)[0].GetText("served_by"), "encoder/rep-0");
  EXPECT_EQ(Processed(flow, "encoder"), 1);
  EXPECT_EQ(Processed(flow, "indexer"), 0);

  // A pattern that could exhaust the regex compiler is refused, not compiled.
  options.target_executor = std::string(5000, '(') + std::string(5000, ')');
  auto refused = flow.Post("/x", Docs(1), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("target_executor"));
}

// A nested-star pattern against a long name: exponential for a backtracking engine (a request
// held the gateway for minutes), linear with RE2. The node it does not match is skipped.
TEST(FlowTest, NestedStarTargetExecutorIsFastAndSkipsWhatItDoesNotMatch) {
  const std::string long_name(32, 'a');
  Flow flow(Options());
  flow.Add(Node(long_name, "Echo")).Add(Node("encoder", "Echo"));
  ASSERT_TRUE(flow.Start().ok());
  PostOptions options;
  options.target_executor = "(a|a)*(a*)*(a+)+b";
  auto skipped = flow.Post("/x", Docs(1), options);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_FALSE((*skipped)[0].Has("served_by"));
  EXPECT_EQ(Processed(flow, long_name), 0);
  EXPECT_EQ(Processed(flow, "encoder"), 0);

  options.target_executor = "(a|a)*(a+)+";  // matches a prefix of the long name only
  auto matched = flow.Post("/x", Docs(1), options);
  ASSERT_TRUE(matched.ok()) << matched.status();
  EXPECT_EQ((*matched)[0].GetText("served_by"), long_name + "/rep-0");
  EXPECT_EQ(Processed(flow, "encoder"), 0);

  options.target_executor = "(enc)\\1";  // a backreference: RE2 refuses it, naming why
  auto refused = flow.Post("/x", Docs(1), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("target_executor '(enc)\\1'"));
}

TEST(FlowTest, SpecificParametersReachOneNodeAndAnErrorShortCircuits) {
  Flow flow(Options());
  flow.Add(Node("first", "Fail")).Add(Node("second", "Fail"));
  ASSERT_TRUE(flow.Start().ok());
  std::string failed_at;
  PostOptions options;
  options.on_error = [&](const Response& r) { failed_at = std::string(r.error()); };

  options.parameters = *Params::FromJson(R"({"second__fail": true})");
  ASSERT_TRUE(flow.Post("/x", Docs(1), options).ok());
  EXPECT_FALSE(failed_at.empty());
  EXPECT_EQ(Processed(flow, "first"), 1);   // `first` did not see fail=true
  EXPECT_EQ(Processed(flow, "second"), 1);  // and `second` did

  failed_at.clear();
  options.parameters = *Params::FromJson(R"({"first__fail": true})");
  ASSERT_TRUE(flow.Post("/x", Docs(1), options).ok());
  EXPECT_FALSE(failed_at.empty());
  EXPECT_EQ(Processed(flow, "first"), 2);
  EXPECT_EQ(Processed(flow, "second"), 1);  // skipped after the error
}

TEST(FlowTest, HttpAndGrpcGiveTheSameAnswers) {
  FlowOptions options = Options();
  options.protocols = {"grpc", "http"};
  Flow flow(options);
  flow.Add(Node("enc", "Echo")).Add(Node("idx", "ExactNNIndexer"));
  ASSERT_TRUE(flow.Start().ok());
  ASSERT_GT(flow.http_port(), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(flow.http_port());
  // Index two docs over HTTP, search over gRPC and over HTTP.
  std::string indexed = Curl("-XPOST " + url + "/index -d '{\"data\": [" +
                             "{\"id\": \"a\", \"text\": \"first\", \"embedding\": [1, 0]}," +
                             "{\"id\": \"b\", \"text\": \"second\", \"embedding\": [0, 1]}]}'");
  EXPECT_THAT(indexed, HasSubstr("\"served_by\":\"enc/rep-0\""));
  DocList query;
  std::vector<float> q = {0.9f, 0.1f};
  Doc d = query.Add();
  d.set_id("q");
  d.set_embedding(q);
  auto grpc_answer = flow.Post("/search", query);
  ASSERT_TRUE(grpc_answer.ok()) << grpc_answer.status();
  ASSERT_EQ((*grpc_answer)[0].matches().size(), 2u);
  EXPECT_EQ((*grpc_answer)[0].matches()[0].id(), "a");
  std::string http_answer = Curl("-XPOST " + url + "/post -d '{\"execEndpoint\": \"/search\", " +
                                 "\"data\": [{\"id\": \"q\", \"embedding\": [0.9, 0.1]}]}'");
  // The same matches, best first.
  size_t a = http_answer.find("\"id\":\"a\"");
  size_t b = http_answer.find("\"id\":\"b\"");
  ASSERT_NE(a, std::string::npos) << http_answer;
  ASSERT_NE(b, std::string::npos) << http_answer;
  EXPECT_LT(a, b);
  // Bad input is a 400 that says what was wrong.
  std::string bad = Curl("-o - -w '%{http_code}' -XPOST " + url + "/post -d '{\"data\": 5'");
  EXPECT_THAT(bad, HasSubstr("400"));
}

TEST(FlowTest, DeploymentDownIsUnavailableNamingIt) {
  Flow flow(Options());
  DeploymentOptions remote = Node("remote", "Echo");
  remote.external = true;
  remote.external_hosts = {"127.0.0.1:1"};  // nothing listens there
  flow.Add(std::move(remote));
  ASSERT_TRUE(flow.Start().ok());
  auto docs = flow.Post("/x", Docs(1), {.stream = false});
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(docs.status().message(), HasSubstr("remote"));
}

TEST(FlowCommandTest, YamlFormsRunUnderShoalFlow) {
  const testing::TempDir tmp("flow-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "second.yml") << "jtype: Deployment\nwith:\n  name: second\n  uses: Echo\n";
  std::ofstream(dir / "flow.yml")
      << "jtype: Flow\nversion: '1'\nwith:\n  name: yamlflow\n  host: 127.0.0.1\n"
         "executors:\n"
         "  - name: first\n    uses: Echo\n    replicas: 2\n"
         "  - second.yml\n"
         "  - jtype: Deployment\n    with:\n      name: third\n      uses: Echo\n";
  auto gateway = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", (dir / "flow.yml").string(), "--port", "0"});
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto client = Client::Connect((*gateway)->address());
  ASSERT_TRUE(client.ok());
  auto docs = client->Post("/x", Docs(3));
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0].GetText("served_by"), "third/rep-0");
  (*gateway)->Signal(SIGTERM);
  EXPECT_EQ((*gateway)->Wait(std::chrono::seconds(30)), 0) << (*gateway)->Log();
}

// A port free now: bound to 0 and closed, for a test that must write one in a Flow YAML.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

TEST(FlowCommandTest, AnExecutorsPortIsWhereItsReplicaListens) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  const testing::TempDir tmp("flow-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "pinned.yml")
      << "jtype: Flow\nwith:\n  host: 127.0.0.1\nexecutors:\n"
      << "  - name: pinned\n    uses: Echo\n    port: " << port << "\n";
  auto flow = Flow::FromYaml(dir / "pinned.yml");
  ASSERT_TRUE(flow.ok()) << flow.status();
  Status started = flow->Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string address = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(flow->replica_addresses("pinned"), std::vector<std::vector<std::string>>{{address}});
  EXPECT_EQ(ReplicaInfo(address)["name"], "pinned/rep-0");  // the replica itself answers there
  auto docs = flow->Post("/x", Docs(1));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ((*docs)[0].GetText("served_by"), "pinned/rep-0");
}

TEST(FlowCommandTest, GatewayAloneRoutesToRemoteDeployments) {
  auto replica =
      testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo", "--name",
                                    "enc/rep-0", "--host", "127.0.0.1", "--port", "0"});
  ASSERT_TRUE(replica.ok()) << replica.status();
  const testing::TempDir tmp("flow-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "gw.yml") << "jtype: Flow\nwith:\n  host: 127.0.0.1\n"
                                   "executors:\n  - name: enc\n    uses: Echo\n";
  auto gateway = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "gateway", "--uses", (dir / "gw.yml").string(), "--port", "0",
       "--deployments-addresses", "{\"enc\": [\"" + (*replica)->address() + "\"]}"});
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto client = Client::Connect((*gateway)->address());
  ASSERT_TRUE(client.ok());
  auto docs = client->Post("/x", Docs(2));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ((*docs)[0].GetText("served_by"), "enc/rep-0");

  auto missing =
      testing::ChildProcess::Start({testing::ShoalBinary(), "gateway", "--uses",
                                    (dir / "gw.yml").string(), "--deployments-addresses", "{}"});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("'enc'"));
}

TEST(FlowCommandTest, GraphErrorsAreClear) {
  const testing::TempDir tmp("flow-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "cycle.yml") << "jtype: Flow\nexecutors:\n"
                                      "  - name: a\n    needs: b\n  - name: b\n    needs: a\n";
  auto cycle = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", (dir / "cycle.yml").string()});
  ASSERT_FALSE(cycle.ok());
  EXPECT_THAT(cycle.status().message(), HasSubstr("cycle"));
  std::ofstream(dir / "dup.yml") << "jtype: Flow\nexecutors:\n  - name: a\n  - name: a\n";
  auto dup = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", (dir / "dup.yml").string()});
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("dup.yml:4"));
}

}  // namespace
}  // namespace shoal
