// Rolling updates of a running Deployment of real replica processes, under steady load from 8
// senders: the update completes without a failed request and the new version answers every
// request sent after Update() returned; an update whose new replicas cannot start is rolled back,
// again without a failed request, and the old version keeps answering. A stateful Deployment
// under writes replaces its Raft voters one at a time without losing an acknowledged write.
// Scaling down drains the replicas that leave in the same way.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/flow.h"
#include "src/metrics/metrics.h"
#include "tests/integration/child_process.h"
#include "tests/integration/flow_nodes.h"
#include "tests/testing/acked_writes.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/unused_port.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using testing::UnusedPort;

using testing::ExpectEveryAckedWriteOn;
using ::testing::HasSubstr;

constexpr char kVersioned[] = VERSIONED_EXECUTOR_PATH;

DeploymentOptions Versioned(std::string name, std::string version, std::string fail_on = "") {
  DeploymentOptions options;
  options.name = std::move(name);
  options.uses = kVersioned;
  options.uses_with = "{\"version\": \"" + version + "\", \"fail_on\": \"" + fail_on + "\"}";
  options.replicas = 3;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 30000;
  return options;
}

// Senders that each post one document at a time until stopped (after at least `least` requests
// each, at most 20000), counting failures and the answers of a version other than the one
// expected once Expect() was called.
class Load {
 public:
  // Posts `docs` for sender number `sender`.
  using Post = std::function<StatusOr<DocList>(const DocList& docs, int sender)>;
  // Half the senders post unary calls, half over a stream (the replicas see both).
  Load(Deployment& dep, int senders, int least)
      : Load([&dep](const DocList& docs,
                    int sender) { return dep.Post("/", docs, {.stream = sender % 2 == 0}); },
             senders, least) {}
  Load(Post post, int senders, int least) : post_(std::move(post)), least_(least) {
    for (int s = 0; s < senders; ++s) threads_.emplace_back([this, s] { Send(s); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Every request sent from now on must be answered by `version`.
  void Expect(std::string version) {
    absl::MutexLock lock(&mu_);
    expected_ = std::move(version);
    served_by_.clear();
  }
  int done() const { return done_; }
  int failed() const { return failed_; }
  std::string first_error() const {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }
  int stale() const { return stale_; }
  // The replicas that answered since the last Expect().
  std::set<std::string> served_by() const {
    absl::MutexLock lock(&mu_);
    return served_by_;
  }

 private:
  void Send(int sender) {
    for (int i = 0; i < 20000 && (i < least_ || !stop_); ++i) {
      std::string expected;
      {
        absl::MutexLock lock(&mu_);
        expected = expected_;
      }
      DocList docs;
      docs.Add().set_text("x");
      auto answer = post_(docs, sender);
      ++done_;
      if (!answer.ok() || answer->size() != 1) {
        ++failed_;
        absl::MutexLock lock(&mu_);
        if (first_error_.empty()) {
          first_error_ = answer.ok() ? "not one doc in the answer" : answer.status().ToString();
        }
        continue;
      }
      const std::string version((*answer)[0].GetText("version").value_or("<none>"));
      if (!expected.empty() && version != expected) ++stale_;
      absl::MutexLock lock(&mu_);
      served_by_.insert(std::string((*answer)[0].GetText("served_by").value_or("")));
    }
  }

  const Post post_;
  const int least_;
  std::atomic<bool> stop_{false};
  std::atomic<int> done_{0};
  std::atomic<int> failed_{0};
  std::atomic<int> stale_{0};
  mutable absl::Mutex mu_;
  std::string expected_ ABSL_GUARDED_BY(mu_);
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> served_by_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

std::vector<int> Pids(const Deployment& dep) {
  return {dep.replica_pid(0, 0), dep.replica_pid(0, 1), dep.replica_pid(0, 2)};
}

TEST(RollingUpdateTest, UnderLoadNoRequestFailsAndTheNewVersionAnswersAfterUpdate) {
  Deployment dep(Versioned("roll", "v1"));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<int> before = Pids(dep);
  Load load(dep, 8, /*least=*/300);  // during the update, either version may answer
  ASSERT_TRUE(testing::WaitFor([&] { return load.done() >= 400; }, absl::Seconds(60)));

  Status updated = dep.Update(Versioned("roll", "v2"));
  ASSERT_TRUE(updated.ok()) << updated;
  load.Expect("v2");
  const int at_update = load.done();
  EXPECT_TRUE(testing::WaitFor([&] { return load.done() >= at_update + 600; }, absl::Seconds(60)));
  load.Stop();

  EXPECT_GE(load.done(), 2400);
  EXPECT_EQ(load.failed(), 0) << load.first_error();
  EXPECT_EQ(load.stale(), 0);
  // The replicas keep Jina's names, and each is a new process.
  EXPECT_EQ(load.served_by(), (std::set<std::string>{"roll/rep-0", "roll/rep-1", "roll/rep-2"}));
  const std::vector<int> after = Pids(dep);
  for (int r = 0; r < 3; ++r) {
    EXPECT_GT(after[r], 0);
    EXPECT_NE(after[r], before[r]) << "rep-" << r;
  }
  EXPECT_THAT(metrics::RenderText(),
              HasSubstr("shoal_deployment_rollouts_total{deployment=\"roll\",result=\"done\"} 1"));
}

// A client stream open across the update (one Post of many requests): the replicas that leave
// finish the requests they were sent on it, and the rest go to the new ones.
TEST(RollingUpdateTest, AClientStreamOpenAcrossTheUpdateLosesNoRequest) {
  Deployment dep(Versioned("long", "v1"));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  DocList docs;
  for (int i = 0; i < 3000; ++i) docs.Add().set_text(absl::StrCat("d", i));
  StatusOr<DocList> answer = absl::UnknownError("not posted");
  std::thread poster([&] { answer = dep.Post("/", docs, {.request_size = 1, .stream = true}); });
  Status updated = dep.Update(Versioned("long", "v2"));
  poster.join();
  ASSERT_TRUE(updated.ok()) << updated;
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->size(), docs.size());
  int unversioned = 0;
  for (const Doc& doc : *answer) unversioned += doc.GetText("version").value_or("").empty();
  EXPECT_EQ(unversioned, 0);
}

// Scaling down under the same load: the replicas that leave finish the requests they were sent
// before they stop, as a replaced replica does.
TEST(ScaleDownTest, UnderLoadNoRequestFails) {
  DeploymentOptions options = Versioned("shrink", "v1");
  options.replicas = 4;
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  Load load(dep, 8, /*least=*/300);
  ASSERT_TRUE(testing::WaitFor([&] { return load.done() >= 400; }, absl::Seconds(60)));
  for (int replicas : {3, 1}) {
    Status scaled = dep.Scale(replicas);
    ASSERT_TRUE(scaled.ok()) << scaled;
    const int at_scale = load.done();
    EXPECT_TRUE(testing::WaitFor([&] { return load.done() >= at_scale + 300; }, absl::Seconds(60)));
  }
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.first_error();
  EXPECT_EQ(dep.replica_addresses()[0].size(), 1u);
}

TEST(RollingUpdateTest, ANewVersionThatCannotStartIsRolledBackWithoutAFailedRequest) {
  Deployment dep(Versioned("back", "v1"));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  Load load(dep, 8, /*least=*/150);
  ASSERT_TRUE(testing::WaitFor([&] { return load.done() >= 400; }, absl::Seconds(60)));

  // rep-0 is replaced, rep-1 cannot start: rep-0 is put back from the old version.
  Status updated = dep.Update(Versioned("back", "v2", /*fail_on=*/"rep-1"));
  EXPECT_FALSE(updated.ok());
  EXPECT_THAT(updated.message(), HasSubstr("'back/rep-1'"));
  EXPECT_THAT(updated.message(), HasSubstr("refusing to start as back/rep-1"));
  load.Expect("v1");
  const int at_update = load.done();
  EXPECT_TRUE(testing::WaitFor([&] { return load.done() >= at_update + 600; }, absl::Seconds(60)));
  load.Stop();

  EXPECT_EQ(load.failed(), 0) << load.first_error();
  EXPECT_EQ(load.stale(), 0);
  EXPECT_EQ(load.served_by(), (std::set<std::string>{"back/rep-0", "back/rep-1", "back/rep-2"}));
  EXPECT_THAT(
      metrics::RenderText(),
      HasSubstr("shoal_deployment_rollouts_total{deployment=\"back\",result=\"rolled_back\"} 1"));

  // The Deployment can still be updated.
  Status again = dep.Update(Versioned("back", "v3"));
  EXPECT_TRUE(again.ok()) << again;
  auto answer = dep.Post("/", [] {
    DocList docs;
    docs.Add().set_text("x");
    return docs;
  }());
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ((*answer)[0].GetText("version").value_or(""), "v3");
}

// --- Stateful: one Raft voter at a time. ---

using std::chrono::milliseconds;

constexpr int kDim = 8;

// Writes one doc per request (ids w-0, w-1, ...) until stopped (at most 5000), and remembers the
// embedding of every acknowledged write.
class Writer {
 public:
  explicit Writer(Deployment& dep) : dep_(dep), thread_([this] { Run(); }) {}
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded) until `n` more writes were acknowledged.
  bool WaitForAcks(size_t n) {
    const size_t target = acked().size() + n;
    return testing::WaitFor([&] { return acked().size() >= target; }, absl::Seconds(60));
  }
  std::vector<std::pair<std::string, std::vector<float>>> acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int failed() const { return failed_; }
  std::string first_error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_error_;
  }

 private:
  void Run() {
    std::mt19937_64 random(14);
    std::normal_distribution<float> normal;
    for (int k = 0; k < 5000 && !stop_; ++k) {
      std::string id = "w-" + std::to_string(k);
      std::vector<float> v(kDim);
      for (float& x : v) x = normal(random);
      DocList docs;
      Doc doc = docs.Add();
      doc.set_id(id);
      doc.set_embedding(v);
      auto written = dep_.Post("/index", docs, {.stream = false, .timeout = milliseconds(30000)});
      std::lock_guard<std::mutex> lock(mu_);
      if (written.ok()) {
        acked_.emplace_back(id, std::move(v));
      } else {
        ++failed_;
        if (first_error_.empty()) first_error_ = written.status().ToString();
      }
    }
  }

  Deployment& dep_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::vector<float>>> acked_;
  std::string first_error_;
  std::thread thread_;
};

// Waits (bounded) until every replica, asked directly, holds the same state; returns it.
std::string Converged(const Deployment& dep) {
  return testing::ConvergedState([&dep] { return dep.replica_addresses()[0]; });
}

TEST(RollingUpdateTest, StatefulReplicasAreReplacedOneVoterAtATimeUnderWrites) {
  const testing::TempDir tmp("rolling-stateful");
  Deployment dep(testing::StatefulIndexer("idx", tmp.path()));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<int> before = Pids(dep);
  const std::filesystem::path ports = tmp.path() / "idx" / "raft-ports";
  struct stat ports_before {};
  ASSERT_EQ(stat(ports.c_str(), &ports_before), 0);
  // Held open, so that its inode number cannot be given to a new file meanwhile.
  std::ifstream held(ports);
  ASSERT_TRUE(held.is_open());
  Writer writer(dep);
  ASSERT_TRUE(writer.WaitForAcks(20));

  DeploymentOptions updated_options = testing::StatefulIndexer("idx", tmp.path());
  updated_options.env = {{"INDEX_BUILD", "2"}};  // new replica processes
  Status updated = dep.Update(updated_options);
  ASSERT_TRUE(updated.ok()) << updated;
  // The member files were replaced whole (a new file renamed over), never rewritten in place.
  struct stat ports_after {};
  ASSERT_EQ(stat(ports.c_str(), &ports_after), 0);
  EXPECT_NE(ports_after.st_ino, ports_before.st_ino);
  EXPECT_TRUE(writer.WaitForAcks(20));
  writer.Stop();
  EXPECT_EQ(writer.failed(), 0) << writer.first_error();
  const std::vector<int> after = Pids(dep);
  for (int r = 0; r < 3; ++r) EXPECT_NE(after[r], before[r]) << "rep-" << r;

  // Every replica holds every acknowledged write, and the same state.
  const std::string state = Converged(dep);
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) ExpectEveryAckedWriteOn(address, writer.acked());
  // Three voters, the old members gone: with one replica frozen the other two still commit
  // (a group that still counted an old member would need three of four).
  ASSERT_EQ(kill(after[2], SIGSTOP), 0);
  DocList one;
  one.Add().set_id("after-update");
  one[0].set_embedding(std::vector<float>(kDim, 1.0f));
  auto written = dep.Post("/index", one, {.stream = false, .timeout = milliseconds(30000)});
  kill(after[2], SIGCONT);
  EXPECT_TRUE(written.ok()) << "2 of 3 voters did not commit: " << written.status();
  const std::string final_state = Converged(dep);

  // The next start from the same workspace finds the new members and their state.
  dep.Stop();
  Deployment again(updated_options);
  started = again.Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(Converged(again), final_state);
  EXPECT_NE(final_state, state);
}

TEST(RollingUpdateTest, AStatefulUpdateThatCannotStartKeepsTheGroupAndEveryWrite) {
  const testing::TempDir tmp("rolling-stateful-back");
  DeploymentOptions options = testing::StatefulIndexer("idx", tmp.path());
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<int> before = Pids(dep);
  Writer writer(dep);
  ASSERT_TRUE(writer.WaitForAcks(20));

  DeploymentOptions broken = options;
  broken.uses = (tmp.path() / "missing" / "libindexer.so").string();
  Status updated = dep.Update(broken);
  EXPECT_FALSE(updated.ok());
  EXPECT_THAT(updated.message(), HasSubstr("'idx/rep-0'"));
  EXPECT_THAT(updated.message(), HasSubstr("cannot open shared object file"));
  EXPECT_TRUE(writer.WaitForAcks(20));
  writer.Stop();
  EXPECT_EQ(writer.failed(), 0) << writer.first_error();
  EXPECT_EQ(Pids(dep), before);  // the first new replica failed: nothing was replaced

  Converged(dep);
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) ExpectEveryAckedWriteOn(address, writer.acked());
  // The failed member is not counted: one frozen replica of three does not stop writes.
  ASSERT_EQ(kill(before[1], SIGSTOP), 0);
  DocList one;
  one.Add().set_id("after-rollback");
  one[0].set_embedding(std::vector<float>(kDim, 1.0f));
  auto written = dep.Post("/index", one, {.stream = false, .timeout = milliseconds(30000)});
  kill(before[1], SIGCONT);
  EXPECT_TRUE(written.ok()) << "2 of 3 voters did not commit: " << written.status();
}

TEST(RollingUpdateTest, AReplacedVoterThatCannotBeRecordedKeepsTheOldMembersState) {
  const testing::TempDir tmp("rolling-stateful-record");
  DeploymentOptions options = testing::StatefulIndexer("idx", tmp.path());
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::filesystem::path old_state = tmp.path() / "idx" / "rep-0" / "raft";
  ASSERT_TRUE(std::filesystem::is_directory(old_state));
  // The member file cannot be replaced: a folder (not empty) took its place.
  const std::filesystem::path ports = tmp.path() / "idx" / "raft-ports";
  ASSERT_TRUE(std::filesystem::remove(ports));
  std::filesystem::create_directories(ports / "blocked");

  DeploymentOptions updated_options = options;
  updated_options.env = {{"INDEX_BUILD", "2"}};
  Status updated = dep.Update(updated_options);
  EXPECT_FALSE(updated.ok());
  EXPECT_THAT(updated.message(), HasSubstr(ports.string()));
  // Not recorded, so not deleted: the old member's state is still there.
  EXPECT_TRUE(std::filesystem::is_directory(old_state));
}

// A Flow Executor's pinned `port` (one replica): a stand-in serves while the old replica frees
// the port, and the new version ends up on it.
TEST(RollingUpdateTest, AFlowExecutorKeepsItsPinnedPortWithoutAFailedRequest) {
  const int pinned = UnusedPort();
  ASSERT_GT(pinned, 0);
  FlowOptions flow_options;
  flow_options.shoal_binary = testing::ShoalBinary();
  Flow flow(flow_options);
  DeploymentOptions executor = Versioned("pin", "v1");
  executor.replicas = 1;
  executor.port = pinned;
  flow.Add(executor);
  Status started = flow.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string at_pinned = "127.0.0.1:" + std::to_string(pinned);
  ASSERT_EQ(flow.replica_addresses("pin"), (std::vector<std::vector<std::string>>{{at_pinned}}));
  Load load([&flow](const DocList& docs,
                    int sender) { return flow.Post("/", docs, {.stream = sender % 2 == 0}); },
            4,
            /*least=*/100);
  ASSERT_TRUE(testing::WaitFor([&] { return load.done() >= 100; }, absl::Seconds(60)));

  DeploymentOptions updated = Versioned("pin", "v2");
  updated.replicas = 1;
  updated.port = pinned;
  Status status = flow.Update("pin", updated);
  ASSERT_TRUE(status.ok()) << status;
  load.Expect("v2");
  const int at_update = load.done();
  EXPECT_TRUE(testing::WaitFor([&] { return load.done() >= at_update + 200; }, absl::Seconds(60)));
  load.Stop();

  EXPECT_EQ(load.failed(), 0) << load.first_error();
  EXPECT_EQ(load.stale(), 0);
  EXPECT_EQ(flow.replica_addresses("pin"), (std::vector<std::vector<std::string>>{{at_pinned}}));
  auto direct = Client::Connect(at_pinned);
  ASSERT_TRUE(direct.ok()) << direct.status();
  DocList one;
  one.Add().set_text("x");
  auto answer = direct->Post("/", one, {.stream = false});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ((*answer)[0].GetText("version").value_or(""), "v2");
}

}  // namespace
}  // namespace shoal
