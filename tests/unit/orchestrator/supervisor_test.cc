// Tests of the Supervisor with real child processes (small /bin/sh scripts): readiness and
// ports, prefixed output, start failures that quote the child's output, restarts on the same
// port after SIGKILL, and stopping with SIGTERM then SIGKILL.
#include "src/orchestrator/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/strings.h"

namespace shoal::orchestrator {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// Every wait for a child is bounded by this; the conditions normally hold within milliseconds.
constexpr absl::Duration kWait = absl::Seconds(30);

// What a Supervisor reported: output lines, ready and exit callbacks, and the pid of every child
// that printed a line. Thread-safe.
class Recorder {
 public:
  Supervisor::Options Options(Supervisor::Options options = {}) {
    options.log_sink = [this](std::string_view line) { OnLine(line); };
    return options;
  }
  Supervisor::Callbacks Callbacks() {
    return Supervisor::Callbacks{
        .on_ready =
            [this](size_t index, int port) {
              absl::MutexLock lock(&mu_);
              ready_.emplace_back(index, port);
            },
        .on_exit =
            [this](size_t index, int code) {
              absl::MutexLock lock(&mu_);
              exits_.emplace_back(index, code);
            },
    };
  }

  // Waits (bounded) until `pred` holds; it runs under the lock and may use the accessors below.
  template <typename Pred>
  bool WaitFor(Pred pred) {
    absl::MutexLock lock(&mu_);
    auto cond = [&] { return pred(); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), kWait);
  }
  // For WaitFor's predicates only. The thread-safety analysis cannot see that absl::Condition
  // calls them under mu_, so they check it at run time (AssertHeld aborts when it is not held).
  bool HasLine(std::string_view line) const {
    mu_.AssertHeld();
    for (const std::string& l : lines_) {
      if (l == line) return true;
    }
    return false;
  }
  size_t ready_count() const {
    mu_.AssertHeld();
    return ready_.size();
  }

  std::vector<std::string> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  std::vector<std::pair<size_t, int>> ready() const {
    absl::MutexLock lock(&mu_);
    return ready_;
  }
  std::vector<std::pair<size_t, int>> exits() const {
    absl::MutexLock lock(&mu_);
    return exits_;
  }
  std::set<pid_t> pids() const {
    absl::MutexLock lock(&mu_);
    return pids_;
  }

 private:
  void OnLine(std::string_view line) {
    absl::MutexLock lock(&mu_);
    lines_.emplace_back(line);
    std::string_view prefix = line.substr(0, line.find(' '));
    size_t at = prefix.rfind('@');
    int pid = 0;
    if (at != std::string_view::npos && absl::SimpleAtoi(AsAbsl(prefix.substr(at + 1)), &pid)) {
      pids_.insert(pid);
    }
  }

  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<size_t, int>> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<size_t, int>> exits_ ABSL_GUARDED_BY(mu_);
  std::set<pid_t> pids_ ABSL_GUARDED_BY(mu_);
};

// A replica running `script` with /bin/sh; `args` become $1...
ReplicaProcessSpec Sh(std::string name, std::string script, std::vector<std::string> args = {}) {
  ReplicaProcessSpec spec{std::move(name), {"/bin/sh", "-c", std::move(script), "sh"}, {}};
  for (std::string& arg : args) spec.argv.push_back(std::move(arg));
  return spec;
}

bool Alive(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

void ExpectNoneAlive(const std::set<pid_t>& pids) {
  for (pid_t pid : pids) EXPECT_FALSE(Alive(pid)) << "pid " << pid << " outlived Stop()";
}

std::string Prefix(std::string_view name, pid_t pid) {
  return absl::StrCat(AsAbsl(name), "@", pid);
}

TEST(SupervisorTest, StartWaitsForReadyLinesAndReportsPorts) {
  Recorder rec;
  Supervisor sup({Sh("indexer/rep-0", "echo 'ready port=4242'; exec sleep 30"),
                  Sh("indexer/rep-1", "echo 'ready port=4343'; exec sleep 30")},
                 rec.Options(), rec.Callbacks());
  ASSERT_EQ(sup.size(), 2u);
  ASSERT_TRUE(sup.Start().ok());
  EXPECT_EQ(sup.port(0), 4242);
  EXPECT_EQ(sup.port(1), 4343);
  std::set<pid_t> pids = {sup.pid(0), sup.pid(1)};
  EXPECT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_TRUE(pid > 0 && Alive(pid));
  EXPECT_THAT(rec.ready(), testing::UnorderedElementsAre(Pair(0, 4242), Pair(1, 4343)));

  sup.Stop();
  EXPECT_EQ(sup.pid(0), -1);
  EXPECT_EQ(sup.pid(1), -1);
  ExpectNoneAlive(pids);
  EXPECT_TRUE(rec.exits().empty());
  EXPECT_EQ(sup.Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SupervisorTest, PrefixesEveryLineAndHidesTheReadyLine) {
  Recorder rec;
  ReplicaProcessSpec spec = Sh("indexer/shard-1/rep-0",
                               "echo out-line; echo err-line >&2; printf 'par'; printf 'tial\\n';"
                               "echo \"$GREETING parent=$SHOAL_PARENT_PID\" >&2;"
                               "echo 'ready port=4242'; exec sleep 30");
  spec.env["GREETING"] = "hi";
  Supervisor sup({spec}, rec.Options(), rec.Callbacks());
  ASSERT_TRUE(sup.Start().ok());
  const std::string prefix = Prefix("indexer/shard-1/rep-0", sup.pid(0));
  const std::string parent_line = absl::StrCat(prefix, " hi parent=", getpid());
  EXPECT_TRUE(rec.WaitFor([&] {
    return rec.HasLine(prefix + " out-line") && rec.HasLine(prefix + " err-line") &&
           rec.HasLine(prefix + " partial") && rec.HasLine(parent_line);
  })) << testing::PrintToString(rec.lines());
  sup.Stop();
  EXPECT_THAT(rec.lines(), Not(Contains(HasSubstr("ready port"))));
  ExpectNoneAlive(rec.pids());
}

TEST(SupervisorTest, SplitsLinesLongerThan64KiB) {
  Recorder rec;
  Supervisor sup({Sh("big/rep-0",
                     "head -c 70000 /dev/zero | tr '\\0' x; echo; echo 'ready port=4242';"
                     "exec sleep 30")},
                 rec.Options(), rec.Callbacks());
  ASSERT_TRUE(sup.Start().ok());
  const std::string prefix = Prefix("big/rep-0", sup.pid(0));
  const std::string first = prefix + " " + std::string(64 * 1024, 'x');
  const std::string rest = prefix + " " + std::string(70000 - 64 * 1024, 'x');
  EXPECT_TRUE(rec.WaitFor([&] { return rec.HasLine(first) && rec.HasLine(rest); }));
  sup.Stop();
  EXPECT_EQ(rec.lines().size(), 2u);
}

TEST(SupervisorTest, ExitBeforeReadyFailsStartQuotesOutputAndStopsTheOthers) {
  const std::string flag = absl::StrCat(testing::TempDir(), "/supervisor_test_ready_", getpid());
  unlink(flag.c_str());
  Recorder rec;
  // The failing replica waits (bounded) until the good one is ready, so both really started.
  Supervisor sup(
      {Sh("indexer/rep-0", "echo \"pid $$\" >&2; echo 'ready port=4242'; : > \"$1\"; exec sleep 30",
          {flag}),
       Sh("indexer/rep-1",
          "i=0; while [ ! -e \"$1\" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1));"
          "done; echo bad-out; echo bad-err >&2; exit 3",
          {flag})},
      rec.Options(), rec.Callbacks());
  absl::Status status = sup.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  std::string message(AsStd(status.message()));
  EXPECT_THAT(message, HasSubstr("'indexer/rep-1' (pid "));
  EXPECT_THAT(message, HasSubstr("exited with code 3 before printing its ready line"));
  EXPECT_THAT(message, HasSubstr("bad-out"));
  EXPECT_THAT(message, HasSubstr("bad-err"));
  EXPECT_EQ(sup.pid(0), -1);
  EXPECT_EQ(sup.pid(1), -1);
  EXPECT_EQ(rec.pids().size(), 2u) << testing::PrintToString(rec.lines());
  ExpectNoneAlive(rec.pids());
  EXPECT_TRUE(rec.exits().empty());
  unlink(flag.c_str());
}

// A replica that exits with the damaged-state code neither fails the start nor is restarted:
// Damaged() reports it with its output, and the others serve.
TEST(SupervisorTest, AReplicaWithDamagedStateIsLeftStoppedAndReported) {
  Recorder rec;
  Supervisor sup({Sh("indexer/rep-0", "echo 'ready port=4242'; exec sleep 30"),
                  Sh("indexer/rep-1", "echo 'raft.db is damaged' >&2; exit 3")},
                 rec.Options({.initial_backoff = absl::Milliseconds(10), .damaged_exit_code = 3}),
                 rec.Callbacks());
  ASSERT_TRUE(sup.Start().ok());
  EXPECT_TRUE(sup.Damaged(0).ok());
  absl::Status damaged = sup.Damaged(1);
  EXPECT_EQ(damaged.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(AsStd(damaged.message())), HasSubstr("'indexer/rep-1'"));
  EXPECT_THAT(std::string(AsStd(damaged.message())), HasSubstr("raft.db is damaged"));
  absl::SleepFor(absl::Milliseconds(200));  // several backoffs: no restart
  EXPECT_EQ(sup.pid(1), -1);
  // Only rep-1 prints: one process of it ran.
  EXPECT_EQ(rec.pids().size(), 1u) << testing::PrintToString(rec.lines());
  EXPECT_GT(sup.pid(0), 0);
  sup.Stop();
}

TEST(SupervisorTest, ReadyTimeoutFailsStartAndStopsTheReplica) {
  Recorder rec;
  Supervisor sup({Sh("slow/rep-0", "echo still-loading >&2; exec sleep 30")},
                 rec.Options({.ready_timeout = absl::Seconds(1)}), rec.Callbacks());
  absl::Status status = sup.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(AsStd(status.message())), HasSubstr("'slow/rep-0'"));
  EXPECT_THAT(std::string(AsStd(status.message())), HasSubstr("still-loading"));
  EXPECT_EQ(sup.pid(0), -1);
  EXPECT_EQ(rec.pids().size(), 1u);
  ExpectNoneAlive(rec.pids());
}

TEST(SupervisorTest, SpawnFailureNamesTheReplica) {
  Recorder rec;
  Supervisor sup({Sh("ok/rep-0", "echo up >&2; echo 'ready port=4242'; exec sleep 30"),
                  ReplicaProcessSpec{"missing/rep-0", {"/nonexistent/shoal-binary"}, {}}},
                 rec.Options(), rec.Callbacks());
  absl::Status status = sup.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(AsStd(status.message())), HasSubstr("'missing/rep-0'"));
  EXPECT_EQ(sup.pid(0), -1);
  ExpectNoneAlive(rec.pids());
}

// The child reports 4242 when given port 0 and echoes the port it was given.
constexpr char kPortEcho[] =
    "echo \"argv port=$1\" >&2; p=$1; [ \"$p\" = 0 ] && p=4242; echo \"ready port=$p\";"
    "exec sleep 30";

TEST(SupervisorTest, RestartsAKilledReplicaOnItsPreviousPort) {
  Recorder rec;
  Supervisor sup({Sh("indexer/rep-0", kPortEcho, {"{port}"})},
                 rec.Options({.initial_backoff = absl::Milliseconds(50)}), rec.Callbacks());
  ASSERT_TRUE(sup.Start().ok());
  const pid_t first = sup.pid(0);
  EXPECT_TRUE(
      rec.WaitFor([&] { return rec.HasLine(Prefix("indexer/rep-0", first) + " argv port=0"); }));
  ASSERT_EQ(kill(first, SIGKILL), 0);

  ASSERT_TRUE(rec.WaitFor([&] { return rec.ready_count() == 2; }));
  EXPECT_THAT(rec.exits(), ElementsAre(Pair(0, 128 + SIGKILL)));
  EXPECT_THAT(rec.ready(), ElementsAre(Pair(0, 4242), Pair(0, 4242)));
  const pid_t second = sup.pid(0);
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  EXPECT_EQ(sup.port(0), 4242);
  EXPECT_TRUE(rec.WaitFor(
      [&] { return rec.HasLine(Prefix("indexer/rep-0", second) + " argv port=4242"); }));
  sup.Stop();
  ExpectNoneAlive({first, second});
}

TEST(SupervisorTest, FallsBackToPortZeroWhenThePreviousPortFails) {
  Recorder rec;
  Supervisor sup({Sh("indexer/rep-0",
                     "echo \"argv port=$1\" >&2; if [ \"$1\" != 0 ]; then echo \"cannot bind $1\""
                     " >&2; exit 1; fi; echo 'ready port=4242'; exec sleep 30",
                     {"{port}"})},
                 rec.Options({.initial_backoff = absl::Milliseconds(20)}), rec.Callbacks());
  ASSERT_TRUE(sup.Start().ok());
  ASSERT_EQ(kill(sup.pid(0), SIGKILL), 0);
  ASSERT_TRUE(rec.WaitFor([&] { return rec.ready_count() == 2; }));
  EXPECT_THAT(rec.exits(), ElementsAre(Pair(0, 128 + SIGKILL), Pair(0, 1)));
  sup.Stop();
  std::vector<std::string> given;
  for (const std::string& line : rec.lines()) {
    size_t at = line.find(" argv port=");
    if (at != std::string::npos) given.push_back(line.substr(at + 1));
  }
  EXPECT_THAT(given, ElementsAre("argv port=0", "argv port=4242", "argv port=0"));
  ExpectNoneAlive(rec.pids());
}

TEST(SupervisorTest, StopEscalatesToSigkillForAReplicaIgnoringSigterm) {
  Recorder rec;
  // Ignored signals stay ignored across exec, so `sleep` ignores SIGTERM too.
  Supervisor sup({Sh("stubborn/rep-0", "trap '' TERM; echo 'ready port=4242'; exec sleep 600"),
                  Sh("polite/rep-0", "echo 'ready port=4343'; exec sleep 600")},
                 rec.Options({.stop_timeout = absl::Milliseconds(200)}), rec.Callbacks());
  ASSERT_TRUE(sup.Start().ok());
  std::set<pid_t> pids = {sup.pid(0), sup.pid(1)};
  absl::Time begin = absl::Now();
  sup.Stop();
  // Far below the children's own 600 s: Stop() did not wait for `sleep` to end by itself.
  EXPECT_LT(absl::Now() - begin, absl::Seconds(120));
  ExpectNoneAlive(pids);
  EXPECT_EQ(sup.pid(0), -1);
  EXPECT_TRUE(rec.exits().empty());  // stopping is not an unexpected exit
  sup.Stop();                        // idempotent
}

}  // namespace
}  // namespace shoal::orchestrator
