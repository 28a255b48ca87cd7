// Deployments of real replica processes on 127.0.0.1: the seed's replicas x shards x polling
// table, load-aware routing, failover under load with a kill -9, GPU round robin, external
// replicas, and the `shoal deployment` command.
#include "shoal/deployment.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

using testing::ReplicaInfo;

int64_t ProcessedBy(const Deployment& dep) {
  int64_t total = 0;
  for (const auto& shard : dep.replica_addresses()) {
    for (const std::string& address : shard) {
      total += std::stoll(ReplicaInfo(address)["processed_requests"]);
    }
  }
  return total;
}

DocList OneDoc(std::string_view text) {
  DocList docs;
  docs.Add().set_text(text);
  return docs;
}

DeploymentOptions Options(std::string name, std::string uses) {
  DeploymentOptions options;
  options.name = std::move(name);
  options.uses = std::move(uses);
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 30000;
  return options;
}

// The seed's table (jina-semantics §4.3): post one doc 'hello' to `/`.
struct TableRow {
  int replicas;
  int shards;
  const char* polling;
  int64_t runs;  // how often the Executor ran
};

class SeedTableTest : public ::testing::TestWithParam<TableRow> {};

TEST_P(SeedTableTest, ExecutorRunsAndAnswerMatchJina) {
  TableRow row = GetParam();
  DeploymentOptions options = Options("dep", "Echo");
  options.replicas = row.replicas;
  options.shards = row.shards;
  options.polling = row.polling;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  DocList sent = OneDoc("hello");
  auto docs = dep.Post("/", sent);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 1u);  // with shards=2 and ALL, reduce merges the two by id
  EXPECT_EQ((*docs)[0].text(), "hello");
  EXPECT_EQ((*docs)[0].id(), sent[0].id());
  EXPECT_EQ(ProcessedBy(dep), row.runs);
}

INSTANTIATE_TEST_SUITE_P(Rows, SeedTableTest,
                         ::testing::Values(TableRow{2, 1, "ALL", 1}, TableRow{2, 1, "ANY", 1},
                                           TableRow{1, 2, "ALL", 2}, TableRow{1, 2, "ANY", 1}),
                         [](const ::testing::TestParamInfo<TableRow>& info) {
                           return "replicas" + std::to_string(info.param.replicas) + "_shards" +
                                  std::to_string(info.param.shards) + "_" + info.param.polling;
                         });

TEST(DeploymentTest, SearchIsBroadcastToEveryShardEvenWithAnyPolling) {
  DeploymentOptions options = Options("idx", "ExactNNIndexer");
  options.shards = 2;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  DocList docs;
  for (int i = 0; i < 20; ++i) {
    Doc d = docs.Add();
    d.set_text("doc-" + std::to_string(i));
    std::vector<float> v = {static_cast<float>(i), 1.0f, 0.5f};
    d.set_embedding(v);
  }
  ASSERT_TRUE(dep.Post("/index", docs, {.request_size = 1}).ok());
  DocList query;
  std::vector<float> q = {19.0f, 1.0f, 0.5f};
  query.Add().set_embedding(q);
  auto params = Params::FromJson(R"({"limit": 3})");
  auto result = dep.Post("/search", query, {.parameters = *params});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 1u);
  // Each shard holds about half of the docs and answers its top 3; the merge has both.
  EXPECT_EQ((*result)[0].matches().size(), 6u);
  EXPECT_EQ((*result)[0].scores().size(), 6u);
}

TEST(DeploymentTest, IdleReplicaGetsTheRequestFirst) {
  DeploymentOptions options = Options("sleepy", "Sleep");
  options.replicas = 2;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  auto slow_params = Params::FromJson(R"({"ms": 1500})");
  StatusOr<DocList> slow = absl::UnknownError("not run");
  std::thread slow_post(
      [&] { slow = dep.Post("/work", OneDoc("slow"), {.parameters = *slow_params}); });
  // Wait until the slow request is on a replica.
  std::string busy;
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (int i = 0; i < 1000 && busy.empty(); ++i) {
    for (const std::string& address : addresses) {
      if (ReplicaInfo(address)["pending_requests"] == "1") busy = ReplicaInfo(address)["name"];
    }
  }
  ASSERT_FALSE(busy.empty());
  for (int i = 0; i < 10; ++i) {
    auto fast = dep.Post("/work", OneDoc("fast"));
    ASSERT_TRUE(fast.ok()) << fast.status();
    EXPECT_NE((*fast)[0].GetText("served_by"), busy) << "request " << i << " waited";
  }
  slow_post.join();
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ((*slow)[0].GetText("served_by"), busy);
}

TEST(DeploymentTest, KillingAReplicaUnderLoadLosesNoRequestAndItComesBack) {
  DeploymentOptions options = Options("failover", "Echo");
  options.replicas = 3;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  constexpr int kSenders = 8, kPerSender = 300;
  std::atomic<int> done{0}, failed{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&] {
      for (int i = 0; i < kPerSender; ++i) {
        auto result = dep.Post("/x", OneDoc("x"), {.stream = false});
        if (!result.ok() || result->size() != 1) ++failed;
        ++done;
      }
    });
  }
  for (int i = 0; i < 3000 && done < kSenders * kPerSender / 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int victim = dep.replica_pid(0, 1);
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  for (std::thread& t : senders) t.join();
  EXPECT_EQ(done, kSenders * kPerSender);
  EXPECT_EQ(failed, 0);
  // The supervisor restarts it, and the router sends to it again.
  bool back = false;
  for (int i = 0; i < 600 && !back; ++i) {
    int pid = dep.replica_pid(0, 1);
    if (pid > 0 && pid != victim) {
      for (int k = 0; k < 20 && !back; ++k) {
        auto r = dep.Post("/x", OneDoc("again"));
        back = r.ok() && (*r)[0].GetText("served_by") == "failover/rep-1";
      }
    }
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(back);
}

TEST(DeploymentTest, ASingleReplicaIsWaitedForWhileItRestarts) {
  DeploymentOptions options = Options("solo", "Echo");
  options.retries = 8;  // with pauses of 100 ms doubling to 1.6 s between rounds
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  int victim = dep.replica_pid(0, 0);
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  auto docs = dep.Post("/x", OneDoc("x"), {.stream = false});
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ((*docs)[0].GetText("served_by"), "solo/rep-0");
  EXPECT_NE(dep.replica_pid(0, 0), victim);
}

// Replicas run one OpenBLAS thread and one Go processor each unless the Deployment's env (or
// the orchestrator's) says otherwise.
TEST(DeploymentTest, ReplicasRunOneBlasThreadUnlessTheEnvironmentSaysOtherwise) {
  for (const char* name :
       {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "GOMAXPROCS"}) {
    if (std::getenv(name) != nullptr) GTEST_SKIP() << name << " is set here: replicas inherit it";
  }
  DeploymentOptions options = Options("blas", "Echo");
  options.replicas = 2;
  {
    Deployment dep(options);
    ASSERT_TRUE(dep.Start().ok());
    const std::vector<std::string> addresses = dep.replica_addresses()[0];
    for (const std::string& address : addresses) {
      std::map<std::string, std::string> envs = ReplicaInfo(address, /*envs=*/true);
      EXPECT_EQ(envs["OPENBLAS_NUM_THREADS"], "1") << address;
      EXPECT_EQ(envs["GOMAXPROCS"], "1") << address;
    }
  }
  options.env["OPENBLAS_NUM_THREADS"] = "4";
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) {
    EXPECT_EQ(ReplicaInfo(address, /*envs=*/true)["OPENBLAS_NUM_THREADS"], "4") << address;
  }
}

TEST(DeploymentTest, GpuRoundRobinGivesEachReplicaItsDevice) {
  if (std::system("nvidia-smi -L >/dev/null 2>&1") == 0) {
    GTEST_SKIP() << "this machine has GPUs; the expected devices assume CUDA_TOTAL_DEVICES=3";
  }
  setenv("CUDA_TOTAL_DEVICES", "3", 1);
  DeploymentOptions options = Options("gpu", "Echo");
  options.replicas = 4;
  options.env["CUDA_VISIBLE_DEVICES"] = "RR1:";
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  std::vector<std::string> seen;
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) {
    seen.push_back(ReplicaInfo(address, /*envs=*/true)["CUDA_VISIBLE_DEVICES"]);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "1", "2"}));

  DeploymentOptions bad = Options("gpu", "Echo");
  bad.env["CUDA_VISIBLE_DEVICES"] = "RR7";
  Status refused = Deployment(bad).Start();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("RR7"));
  unsetenv("CUDA_TOTAL_DEVICES");
}

// A TLS root file that cannot serve is a configuration error naming the key, not a failure at
// the first call.
TEST(DeploymentTest, AnUnreadableTlsCaFileIsAnErrorNamingTheKey) {
  const testing::TempDir tmp("tls-ca");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "not-pem.txt") << "hello\n";
  for (const auto& [file, message] : std::vector<std::pair<std::string, std::string>>{
           {(dir / "missing.pem").string(), "cannot be read"},
           {(dir / "not-pem.txt").string(), "holds no PEM certificate"}}) {
    std::ofstream(dir / "dep.yml") << "jtype: Deployment\nwith:\n  name: secure\n"
                                   << "  external: true\n  host: [grpcs://127.0.0.1:1]\n"
                                   << "  tls_ca_file: " << file << "\n";
    auto dep = Deployment::FromYaml(dir / "dep.yml");
    ASSERT_TRUE(dep.ok()) << dep.status();
    Status started = dep->Start();
    ASSERT_FALSE(started.ok());
    EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(started.message()), ::testing::HasSubstr("tls_ca_file"));
    EXPECT_THAT(std::string(started.message()), ::testing::HasSubstr(message));
    EXPECT_THAT(std::string(started.message()), ::testing::HasSubstr("dep.yml:"));
  }
}

TEST(DeploymentTest, ExternalReplicasAreRoutedAndFailedOver) {
  std::vector<std::unique_ptr<testing::ChildProcess>> replicas;
  std::vector<std::string> hosts;
  for (int i = 0; i < 2; ++i) {
    auto child = testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo",
                                               "--name", "ext/rep-" + std::to_string(i), "--host",
                                               "127.0.0.1", "--port", "0"});
    ASSERT_TRUE(child.ok()) << child.status();
    hosts.push_back("grpc://" + (*child)->address());
    replicas.push_back(std::move(child).value());
  }
  DeploymentOptions options = Options("ext", "Echo");
  options.external = true;
  options.external_hosts = hosts;
  options.replicas = 2;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  // Both replicas serve. A replica whose first connection failed (a loaded machine) is ejected
  // until its next health probe re-admits it, so keep posting for a while.
  std::set<std::string> served;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < 500 && served.size() < 2 && std::chrono::steady_clock::now() < deadline;
       ++i) {
    auto r = dep.Post("/x", OneDoc("x"));
    ASSERT_TRUE(r.ok()) << r.status();
    served.insert(std::string(*(*r)[0].GetText("served_by")));
  }
  EXPECT_EQ(served.size(), 2u);
  replicas[0]->Signal(SIGKILL);
  replicas[0]->Wait(std::chrono::seconds(10));
  for (int i = 0; i < 20; ++i) {
    auto r = dep.Post("/x", OneDoc("x"), {.stream = false});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)[0].GetText("served_by"), "ext/rep-1");
  }
}

TEST(DeploymentCommandTest, ServesUntilSigtermAndReplicasDieWithIt) {
  const testing::TempDir tmp("dep-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "dep.yml") << "jtype: Deployment\nwith:\n  name: cmd\n  uses: Echo\n"
                                    "  replicas: 2\n  host: 127.0.0.1\n";
  auto orchestrator = testing::ChildProcess::Start({testing::ShoalBinary(), "deployment", "--uses",
                                                    (dir / "dep.yml").string(), "--host",
                                                    "127.0.0.1", "--port", "0"});
  ASSERT_TRUE(orchestrator.ok()) << orchestrator.status();
  auto client = Client::Connect((*orchestrator)->address());
  ASSERT_TRUE(client.ok());
  auto r = client->Post("/x", OneDoc("x"));
  ASSERT_TRUE(r.ok()) << r.status();
  // Replica log lines carry `cmd/rep-i@pid`.
  std::set<int> pids;
  std::string log = (*orchestrator)->Log();
  std::regex pid_re("cmd/rep-[01]@([0-9]+)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), pid_re); it != std::sregex_iterator();
       ++it) {
    pids.insert(std::stoi((*it)[1]));
  }
  ASSERT_EQ(pids.size(), 2u) << log;
  // kill -9 of the orchestrator: its replicas must not outlive it.
  (*orchestrator)->Signal(SIGKILL);
  (*orchestrator)->Wait(std::chrono::seconds(10));
  for (int pid : pids) {
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
      gone = kill(pid, 0) != 0;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(gone) << "replica pid " << pid << " outlived its orchestrator";
  }
}

TEST(DeploymentCommandTest, GpuSpecOutOfRangeNamesTheFileAndKey) {
  const testing::TempDir tmp("dep-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "gpu.yml") << "jtype: Deployment\nwith:\n  uses: Echo\n  replicas: 2\n"
                                    "  env:\n    CUDA_VISIBLE_DEVICES: RR5\n";
  auto orchestrator = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "deployment", "--uses", (dir / "gpu.yml").string()},
      /*wait_ready=*/true, std::chrono::seconds(30), {"CUDA_TOTAL_DEVICES=3"});
  ASSERT_FALSE(orchestrator.ok());
  EXPECT_THAT(orchestrator.status().message(), HasSubstr("gpu.yml:6"));
  EXPECT_THAT(orchestrator.status().message(), HasSubstr("RR5"));
}

TEST(DeploymentCommandTest, TooManyReplicasAreRefusedBeforeAnyStarts) {
  const testing::TempDir tmp("dep-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "big.yml") << "jtype: Deployment\nwith:\n  name: big\n  uses: Echo\n"
                                    "  replicas: 100000\n";
  auto orchestrator = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "deployment", "--uses", (dir / "big.yml").string()});
  ASSERT_FALSE(orchestrator.ok());
  const std::string message(orchestrator.status().message());
  EXPECT_THAT(message, HasSubstr("big.yml:5:13: replicas: Deployment 'big': 100000 replicas"));
  EXPECT_THAT(message, HasSubstr("more than max_replicas (256 per Deployment"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("big/rep-")));  // no replica ever logged
}

TEST(DeploymentTest, MaxReplicasBoundsStartAndScale) {
  DeploymentOptions options = Options("capped", "Echo");
  options.replicas = 3;
  options.max_replicas = 2;
  Deployment refused(options);
  Status started = refused.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument) << started;
  EXPECT_THAT(std::string(started.message()),
              HasSubstr("3 replicas x 1 shards = 3 replica processes, more than max_replicas (2"));

  options.replicas = 1;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  Status scaled = dep.Scale(3);
  EXPECT_EQ(scaled.code(), absl::StatusCode::kInvalidArgument) << scaled;
  EXPECT_THAT(std::string(scaled.message()), HasSubstr("more than max_replicas (2"));
  ASSERT_EQ(dep.replica_addresses().size(), 1u);
  EXPECT_EQ(dep.replica_addresses()[0].size(), 1u);
  EXPECT_TRUE(dep.Scale(2).ok());
  EXPECT_EQ(dep.replica_addresses()[0].size(), 2u);
}

TEST(DeploymentCommandTest, BadYamlIsAClearError) {
  const testing::TempDir tmp("dep-cmd");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "bad.yml") << "jtype: Deployment\nwith:\n  uses: Echo\n  replicas: 0\n";
  auto orchestrator = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "deployment", "--uses", (dir / "bad.yml").string()});
  ASSERT_FALSE(orchestrator.ok());
  EXPECT_THAT(orchestrator.status().message(), HasSubstr("bad.yml:4"));
  EXPECT_THAT(orchestrator.status().message(), HasSubstr("replicas"));
}

}  // namespace
}  // namespace shoal
