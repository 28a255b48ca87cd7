// Updating running Deployments: keys applied in place keep every replica process and take
// effect, a Deployment without autoscaling gets it; `shoal deployment` and `shoal flow` reload
// their YAML on SIGHUP; `shoal rollout` refuses a bad file without touching the process.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

DocList OneDoc(std::string_view text) {
  DocList docs;
  docs.Add().set_text(text);
  return docs;
}

std::vector<int> Pids(const Deployment& dep) {
  std::vector<int> pids;
  const std::vector<std::vector<std::string>> addresses = dep.replica_addresses();
  for (size_t s = 0; s < addresses.size(); ++s) {
    for (size_t r = 0; r < addresses[s].size(); ++r) {
      pids.push_back(dep.replica_pid(static_cast<int>(s), static_cast<int>(r)));
    }
  }
  return pids;
}

int Replicas(const Deployment& dep) {
  std::vector<std::vector<std::string>> addresses = dep.replica_addresses();
  return addresses.empty() ? 0 : static_cast<int>(addresses[0].size());
}

DeploymentOptions SleepOptions() {
  DeploymentOptions options;
  options.name = "inplace";
  options.uses = "Sleep";
  options.uses_with = R"({"ms": 300})";
  options.replicas = 2;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 30000;
  return options;
}

TEST(UpdateTest, InPlaceKeysKeepEveryReplicaAndTakeEffect) {
  DeploymentOptions options = SleepOptions();
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<int> before = Pids(dep);
  ASSERT_EQ(before.size(), 2u);
  ASSERT_TRUE(dep.Post("/x", OneDoc("a"), {.stream = false}).ok());

  // A send timeout shorter than the Executor's 300 ms, without retries, and one more replica.
  options.timeout_send_ms = 50;
  options.retries = 0;
  options.replicas = 3;
  Status updated = dep.Update(options);
  ASSERT_TRUE(updated.ok()) << updated;
  std::vector<int> after = Pids(dep);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
  StatusOr<DocList> timed_out = dep.Post("/x", OneDoc("b"), {.stream = false});
  ASSERT_FALSE(timed_out.ok());
  // One attempt, cut by timeout_send: the router reports the deadline, or the Executor's
  // answer to its caller leaving when that arrives first.
  const std::string message(timed_out.status().message());
  EXPECT_THAT(message, ::testing::AnyOf(::testing::AllOf(HasSubstr("1 attempt(s) failed"),
                                                         HasSubstr("Deadline Exceeded")),
                                        HasSubstr("the caller is gone")));

  // And back: the same replicas answer again.
  options.timeout_send_ms = 0;
  options.retries = -1;
  options.replicas = 2;
  updated = dep.Update(options);
  ASSERT_TRUE(updated.ok()) << updated;
  after = Pids(dep);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
  StatusOr<DocList> answered = dep.Post("/x", OneDoc("c"), {.stream = false});
  EXPECT_TRUE(answered.ok()) << answered.status();
}

TEST(UpdateTest, ARefusedKeyChangesNothing) {
  DeploymentOptions options = SleepOptions();
  options.uses_with = R"({"ms": 0})";
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<int> before = Pids(dep);
  DeploymentOptions changed = options;
  changed.replicas = 3;
  changed.shards = 2;
  Status updated = dep.Update(changed);
  EXPECT_EQ(updated.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(updated.message(), HasSubstr("'shards' cannot change while the Deployment runs"));
  EXPECT_EQ(Pids(dep), before);
}

TEST(UpdateTest, ADeploymentWithoutAutoscalingGetsIt) {
  DeploymentOptions options = SleepOptions();
  options.uses_with = R"({"ms": 0})";
  options.replicas = 3;
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<int> before = Pids(dep);
  // Bounds below the running count apply at once; the idle Deployment then goes to the minimum
  // once the autoscaler has seen it idle for the delay.
  options.autoscaling = R"({"min_replicas": 1, "max_replicas": 2, "downscale_delay_s": 0.5,
      "metrics_interval_s": 0.1, "look_back_period_s": 0.5})";
  Status updated = dep.Update(options);
  ASSERT_TRUE(updated.ok()) << updated;
  EXPECT_EQ(Replicas(dep), 2);
  EXPECT_TRUE(testing::WaitFor([&] { return Replicas(dep) == 1; }, absl::Seconds(30)))
      << "replicas: " << Replicas(dep);
  ASSERT_FALSE(Pids(dep).empty());
  EXPECT_EQ(Pids(dep)[0], before[0]);
  EXPECT_TRUE(dep.Post("/x", OneDoc("a"), {.stream = false}).ok());
}

// The `inplace/rep-i@pid` log lines of `shoal deployment`, as pids.
std::set<int> ReplicaPids(const std::string& log, const std::string& name) {
  std::set<int> pids;
  for (size_t at = log.find(name + "/rep-"); at != std::string::npos;
       at = log.find(name + "/rep-", at + 1)) {
    size_t sign = log.find('@', at);
    if (sign == std::string::npos || sign > at + name.size() + 12) continue;
    pids.insert(std::atoi(log.c_str() + sign + 1));
  }
  return pids;
}

struct Rollout {
  int exit_code;
  std::string output;
};

// Runs `shoal rollout ARGS` to its end.
Rollout RunRollout(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testing::ShoalBinary(), "rollout"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = testing::ChildProcess::Start(argv, /*wait_ready=*/false);
  if (!child.ok()) return {-1, std::string(child.status().message())};
  std::optional<int> code = (*child)->Wait(std::chrono::seconds(120));
  return {code.value_or(-1), (*child)->Log() + (*child)->Stdout()};
}

class ReloadTest : public ::testing::Test {
 protected:
  void Write(const std::string& with) {
    std::ofstream(file_) << "jtype: Deployment\nwith:\n  name: hup\n  host: 127.0.0.1\n" << with;
  }
  void Start() {
    auto child = testing::ChildProcess::Start({testing::ShoalBinary(), "deployment", "--uses",
                                               file_.string(), "--port", "0", "--status-file",
                                               status_.string()});
    ASSERT_TRUE(child.ok()) << child.status();
    process_ = *std::move(child);
    auto client = Client::Connect(process_->address());
    ASSERT_TRUE(client.ok());
    client_.emplace(*std::move(client));
  }
  std::string Status() {
    std::ifstream in(status_);
    std::string line;
    std::getline(in, line);
    return line;
  }

  const testing::TempDir tmp_{"reload"};
  const fs::path file_ = fs::path(tmp_.path()) / "dep.yml";
  const fs::path status_ = fs::path(tmp_.path()) / "dep.status";
  std::unique_ptr<testing::ChildProcess> process_;
  std::optional<Client> client_;
};

TEST_F(ReloadTest, SighupAppliesInPlaceChangesWithoutRestartingReplicas) {
  Write("  uses: Echo\n  replicas: 1\n");
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(Status(), "0 serving ");
  const std::set<int> before = ReplicaPids(process_->Log(), "hup");
  ASSERT_EQ(before.size(), 1u) << process_->Log();
  Write("  uses: Echo\n  replicas: 2\n");
  process_->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor([&] { return Status().rfind("1 ", 0) == 0; }, absl::Seconds(60)))
      << Status() << "\n"
      << process_->Log();
  EXPECT_EQ(Status(), "1 ok ");
  // The first replica still runs; the second one serves too.
  const std::set<int> after = ReplicaPids(process_->Log(), "hup");
  EXPECT_EQ(after.size(), 2u) << process_->Log();
  EXPECT_TRUE(after.contains(*before.begin()));
  EXPECT_EQ(kill(*before.begin(), 0), 0);
  std::set<std::string> served_by;
  for (int i = 0; i < 20; ++i) {
    auto answer = client_->Post("/x", OneDoc("x"));
    ASSERT_TRUE(answer.ok()) << answer.status();
    served_by.insert(std::string((*answer)[0].GetText("served_by").value_or("")));
  }
  EXPECT_TRUE(served_by.contains("hup/rep-1"));
}

TEST_F(ReloadTest, ARefusedChangeIsLoggedAndTheOldDeploymentKeepsServing) {
  Write("  uses: Echo\n  replicas: 1\n");
  ASSERT_NO_FATAL_FAILURE(Start());
  Write("  uses: Echo\n  replicas: 1\n  shards: 2\n");
  process_->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor([&] { return Status().rfind("1 ", 0) == 0; }, absl::Seconds(60)))
      << Status();
  EXPECT_THAT(Status(), HasSubstr("1 error"));
  EXPECT_THAT(Status(), HasSubstr("'shards' cannot change"));
  EXPECT_THAT(process_->Log(), HasSubstr("reload 1 failed"));
  EXPECT_TRUE(client_->Post("/x", OneDoc("x")).ok());
}

TEST_F(ReloadTest, RolloutRefusesABadFileWithoutSignallingTheProcess) {
  Write("  uses: Echo\n  replicas: 1\n");
  ASSERT_NO_FATAL_FAILURE(Start());
  Write("  uses: Echo\n  replicas: 0\n");
  Rollout rollout = RunRollout({file_.string(), "--pid", std::to_string(process_->pid())});
  EXPECT_EQ(rollout.exit_code, 2) << rollout.output;
  EXPECT_THAT(rollout.output, HasSubstr("dep.yml:6:13: replicas"));
  EXPECT_THAT(rollout.output, HasSubstr("was not signalled"));
  // No reload ran: the status is still the start's, and the process serves.
  EXPECT_EQ(Status(), "0 serving ");
  EXPECT_THAT(process_->Log(), ::testing::Not(HasSubstr("SIGHUP")));
  EXPECT_TRUE(client_->Post("/x", OneDoc("x")).ok());
}

TEST_F(ReloadTest, RolloutRefusesAProcessThatRunsAnotherFile) {
  Write("  uses: Echo\n  replicas: 1\n");
  ASSERT_NO_FATAL_FAILURE(Start());
  const fs::path other = fs::path(tmp_.path()) / "other.yml";
  std::ofstream(other) << "jtype: Deployment\nwith:\n  name: hup\n  uses: Echo\n";
  Rollout rollout = RunRollout({other.string(), "--pid", std::to_string(process_->pid())});
  EXPECT_EQ(rollout.exit_code, 2) << rollout.output;
  EXPECT_THAT(rollout.output, HasSubstr("runs " + file_.string()));
  EXPECT_EQ(Status(), "0 serving ");
}

TEST_F(ReloadTest, RolloutRefusesAStatusFileThatIsASymbolicLink) {
  Write("  replicas: 1\n");
  Start();
  // A link to a status file of the same user: its owner would pass a check that follows it.
  const fs::path link = fs::path(tmp_.path()) / "link.status";
  fs::create_symlink(status_, link);
  Rollout rollout = RunRollout(
      {file_.string(), "--pid", std::to_string(process_->pid()), "--status-file", link.string()});
  EXPECT_EQ(rollout.exit_code, 2) << rollout.output;
  EXPECT_THAT(rollout.output, HasSubstr(link.string() + " is a symbolic link"));
  EXPECT_THAT(rollout.output, HasSubstr("was not signalled"));
  EXPECT_EQ(Status(), "0 serving ");
}

TEST_F(ReloadTest, RolloutReportsTheOutcome) {
  Write("  uses: Echo\n  replicas: 1\n");
  ASSERT_NO_FATAL_FAILURE(Start());
  Write("  uses: Echo\n  replicas: 2\n");
  Rollout ok = RunRollout({file_.string(), "--pid", std::to_string(process_->pid())});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("rollout ok"));
  Write("  uses: Echo\n  replicas: 2\n  port_monitoring: 9\n");
  Rollout refused = RunRollout({file_.string(), "--pid", std::to_string(process_->pid())});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("'port_monitoring' cannot change"));
}

TEST(FlowReloadTest, SighupUpdatesTheChangedExecutorAndRefusesANewOne) {
  const testing::TempDir tmp("flow-reload");
  const fs::path file = fs::path(tmp.path()) / "flow.yml";
  const fs::path status = fs::path(tmp.path()) / "flow.status";
  auto write = [&](const std::string& executors) {
    std::ofstream(file) << "jtype: Flow\nwith:\n  host: 127.0.0.1\nexecutors:\n" << executors;
  };
  auto status_line = [&] {
    std::ifstream in(status);
    std::string line;
    std::getline(in, line);
    return line;
  };
  write("  - name: a\n    uses: Echo\n  - name: b\n    uses: Echo\n");
  auto flow = testing::ChildProcess::Start({testing::ShoalBinary(), "flow", "--uses", file.string(),
                                            "--port", "0", "--status-file", status.string()});
  ASSERT_TRUE(flow.ok()) << flow.status();
  write("  - name: a\n    uses: Echo\n  - name: b\n    uses: Echo\n    replicas: 2\n");
  (*flow)->Signal(SIGHUP);
  ASSERT_TRUE(
      testing::WaitFor([&] { return status_line().rfind("1 ", 0) == 0; }, absl::Seconds(60)))
      << status_line() << (*flow)->Log();
  EXPECT_EQ(status_line(), "1 ok ");
  EXPECT_THAT((*flow)->Log(), HasSubstr("Deployment 'b': scaled from 1 to 2"));
  EXPECT_THAT((*flow)->Log(), ::testing::Not(HasSubstr("Deployment 'a': updated")));

  write(
      "  - name: a\n    uses: Echo\n  - name: b\n    uses: Echo\n    replicas: 2\n"
      "  - name: c\n    uses: Echo\n");
  (*flow)->Signal(SIGHUP);
  ASSERT_TRUE(
      testing::WaitFor([&] { return status_line().rfind("2 ", 0) == 0; }, absl::Seconds(60)))
      << status_line();
  EXPECT_THAT(status_line(), HasSubstr("2 error"));
  EXPECT_THAT(status_line(),
              HasSubstr("the Executors changed (running: a, b; in the file: a, b, c)"));
  auto client = Client::Connect((*flow)->address());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->Post("/x", OneDoc("x")).ok());
}

// Needs rolling updates (a changed `uses`); skipped while they are not implemented.
TEST_F(ReloadTest, SighupWithANewUsesServesTheNewVersion) {
  Write("  uses: Echo\n  replicas: 2\n");
  ASSERT_NO_FATAL_FAILURE(Start());
  auto echoed = client_->Post("/count", OneDoc("x"));
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ((*echoed)[0].text(), "x");
  Write("  uses: Counter\n  replicas: 2\n");
  Rollout rollout = RunRollout({file_.string(), "--pid", std::to_string(process_->pid())});
  if (rollout.output.find("rolling updates") != std::string::npos) {
    GTEST_SKIP() << "rolling updates are not implemented: " << rollout.output;
  }
  ASSERT_EQ(rollout.exit_code, 0) << rollout.output << process_->Log();
  for (int i = 0; i < 10; ++i) {
    auto counted = client_->Post("/count", OneDoc("x"));
    ASSERT_TRUE(counted.ok()) << counted.status();
    EXPECT_EQ((*counted)[0].text(), "0");  // Counter's count, not the echoed doc
  }
}

}  // namespace
}  // namespace shoal
