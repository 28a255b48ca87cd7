// Supervisor: spawning, readiness, reaping, restarts with backoff, and stopping of replicas.
#include "src/orchestrator/supervisor.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "src/common/log.h"
#include "src/orchestrator/process.h"

namespace shoal::orchestrator {
namespace {

constexpr absl::Duration kReapInterval = absl::Milliseconds(20);
// A replica ready this long has its backoff reset.
constexpr absl::Duration kStableAfter = absl::Seconds(30);
// How long Start() waits for the last lines of a replica that exited.
constexpr absl::Duration kOutputGrace = absl::Seconds(2);
// How long Stop() waits for the kernel after SIGKILL before it gives up on a process.
constexpr absl::Duration kKillGrace = absl::Seconds(10);

std::string Milliseconds(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), " ms");
}

}  // namespace

Supervisor::Supervisor(std::vector<ReplicaProcessSpec> replicas, Options options,
                       Callbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)) {
  {
    absl::MutexLock lock(&mu_);
    ready_timeout_ = options_.ready_timeout;
    replicas_.resize(replicas.size());
    for (size_t i = 0; i < replicas.size(); ++i) {
      replicas_[i].spec = std::move(replicas[i]);
      replicas_[i].backoff = options_.initial_backoff;
      const std::string& name = replicas_[i].spec.name;
      replicas_[i].restarts = metrics::ReplicaRestarts(metrics::DeploymentOf(name), name);
    }
  }
  pump_ = std::make_unique<LogPump>(
      options_.log_sink,
      LogPump::Callbacks{
          .on_ready = [this](uint64_t id, int port) { OnReady(id, port); },
          .on_eof = [this](uint64_t id,
                           std::vector<std::string> tail) { OnEof(id, std::move(tail)); }});
}

Supervisor::~Supervisor() { Stop(); }

int Supervisor::port(size_t index) const {
  absl::MutexLock lock(&mu_);
  return index < replicas_.size() ? replicas_[index].port : 0;
}

pid_t Supervisor::pid(size_t index) const {
  absl::MutexLock lock(&mu_);
  return index < replicas_.size() ? replicas_[index].pid : -1;
}

absl::Status Supervisor::Damaged(size_t index) const {
  absl::MutexLock lock(&mu_);
  if (index >= replicas_.size() || replicas_[index].state != State::kDamaged) {
    return absl::OkStatus();
  }
  const Replica& r = replicas_[index];
  mu_.AwaitWithTimeout(absl::Condition(&r.output_done), kOutputGrace);
  return absl::DataLossError(absl::StrCat("replica '", r.spec.name, "' (pid ", r.last_pid,
                                          ") exited with ", DescribeExitCode(r.exit_code),
                                          ": its state is damaged; ", OutputTailLocked(r)));
}

size_t Supervisor::size() const {
  absl::MutexLock lock(&mu_);
  return replicas_.size();
}

absl::StatusOr<size_t> Supervisor::Add(ReplicaProcessSpec replica) {
  absl::MutexLock lock(&mu_);
  if (!started_ || start_phase_ || stopping_) {
    return absl::FailedPreconditionError("replicas are added to a running Supervisor only");
  }
  const size_t index = replicas_.size();
  Replica& r = replicas_.emplace_back();
  r.spec = std::move(replica);
  r.backoff = options_.initial_backoff;
  r.restarts = metrics::ReplicaRestarts(metrics::DeploymentOf(r.spec.name), r.spec.name);
  r.adding = true;
  absl::Status status = SpawnLocked(index);
  if (status.ok()) {
    auto settled = [this, &r]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || r.state == State::kFailed || r.state == State::kDamaged ||
             (r.state == State::kReady && ready_callbacks_running_ == 0);
    };
    mu_.AwaitWithTimeout(absl::Condition(&settled), ready_timeout_);
    if (stopping_) {
      status = absl::CancelledError("stopped while adding a replica");
    } else if (r.state != State::kReady) {
      status = NotReadyLocked(r);
    }
  }
  r.adding = false;
  if (!status.ok()) {
    r.removed = true;
    StopOneLocked(r);
    r.state = State::kStopped;
    return status;
  }
  return index;
}

void Supervisor::Remove(size_t index) {
  absl::MutexLock lock(&mu_);
  if (index >= replicas_.size()) return;
  Replica& r = replicas_[index];
  r.removed = true;
  StopOneLocked(r);
  r.state = State::kStopped;
}

void Supervisor::StopOneLocked(Replica& r) {
  if (r.pid <= 0) return;
  SignalChildGroup(r.pid, SIGTERM);
  auto reaped = [&r] { return r.pid <= 0; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&reaped), options_.stop_timeout)) {
    SHOAL_LOG_WARNING("replica %s (pid %d) still running %s after SIGTERM; sending SIGKILL",
                      r.spec.name, r.pid, Milliseconds(options_.stop_timeout));
    SignalChildGroup(r.pid, SIGKILL);
    if (!mu_.AwaitWithTimeout(absl::Condition(&reaped), kKillGrace)) {
      SHOAL_LOG_ERROR("replica %s (pid %d) survived SIGKILL for %s; leaving it", r.spec.name, r.pid,
                      Milliseconds(kKillGrace));
    }
  }
}

absl::Status Supervisor::Start() {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_) {
      return absl::FailedPreconditionError("the replicas were started or stopped already");
    }
    started_ = true;
    start_phase_ = true;
    thread_ = std::thread([this] { Run(); });
    for (size_t i = 0; i < replicas_.size() && status.ok(); ++i) status = SpawnLocked(i);
    if (status.ok()) status = AwaitReady();
    start_phase_ = false;
  }
  if (!status.ok()) Stop();
  return status;
}

absl::Status Supervisor::SpawnLocked(size_t index) {
  Replica& r = replicas_[index];
  std::vector<std::string> argv = r.spec.argv;
  for (std::string& arg : argv) {
    if (arg == "{port}") arg = absl::StrCat(r.next_port);
  }
  absl::StatusOr<ChildProcess> child = SpawnChild(argv, r.spec.env);
  if (!child.ok()) {
    return absl::Status(child.status().code(), absl::StrCat("starting replica '", r.spec.name,
                                                            "': ", child.status().message()));
  }
  r.pid = child->pid;
  r.child_id = next_child_id_++;
  r.state = State::kStarting;
  r.output_done = false;
  r.last_output.clear();
  child_index_[r.child_id] = index;
  pump_->Add(r.child_id, absl::StrCat(r.spec.name, "@", r.pid), std::move(child->stdout_fd),
             std::move(child->stderr_fd));
  SHOAL_LOG_DEBUG("started replica %s (pid %d): %s", r.spec.name, r.pid, absl::StrJoin(argv, " "));
  return absl::OkStatus();
}

bool Supervisor::StartSettled() const {
  if (stopping_) return true;
  bool all_ready = true;
  for (const Replica& r : replicas_) {
    if (r.state == State::kFailed) return true;
    all_ready = all_ready && (r.state == State::kReady || r.state == State::kDamaged);
  }
  return all_ready && ready_callbacks_running_ == 0;
}

void Supervisor::SetReadyTimeout(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  ready_timeout_ = timeout;
}

absl::Status Supervisor::AwaitReady() {
  mu_.AwaitWithTimeout(absl::Condition(this, &Supervisor::StartSettled), ready_timeout_);
  if (stopping_) return absl::CancelledError("stopped while starting the replicas");
  for (Replica& r : replicas_) {
    if (r.state == State::kFailed) return NotReadyLocked(r);
  }
  for (Replica& r : replicas_) {
    if (r.state != State::kReady && r.state != State::kDamaged) return NotReadyLocked(r);
  }
  return absl::OkStatus();
}

absl::Status Supervisor::NotReadyLocked(Replica& r) {
  if (r.state == State::kFailed || r.state == State::kDamaged) {
    // The pipes close just after the exit; wait a little for the last lines.
    mu_.AwaitWithTimeout(absl::Condition(&r.output_done), kOutputGrace);
    return absl::FailedPreconditionError(absl::StrCat(
        "replica '", r.spec.name, "' (pid ", r.last_pid, ") exited with ",
        DescribeExitCode(r.exit_code), " before printing its ready line; ", OutputTailLocked(r)));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("replica '", r.spec.name, "' (pid ", r.pid, ") printed no ready line within ",
                   absl::FormatDuration(ready_timeout_), "; ", OutputTailLocked(r)));
}

std::string Supervisor::OutputTailLocked(const Replica& replica) const {
  std::vector<std::string> lines =
      replica.output_done ? replica.last_output : pump_->Tail(replica.child_id);
  if (lines.empty()) return "it printed nothing";
  return absl::StrCat("its last output:\n  ", absl::StrJoin(lines, "\n  "));
}

void Supervisor::OnReady(uint64_t child_id, int port) {
  size_t index = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = child_index_.find(child_id);
    if (it == child_index_.end() || stopping_) return;
    index = it->second;
    Replica& r = replicas_[index];
    if (r.child_id != child_id || r.state != State::kStarting) return;
    r.state = State::kReady;
    r.port = port;
    r.next_port = port;
    r.ready_since = absl::Now();
    SHOAL_LOG_DEBUG("replica %s (pid %d) ready on port %d", r.spec.name, r.pid, port);
    ++ready_callbacks_running_;
  }
  if (callbacks_.on_ready) callbacks_.on_ready(index, port);
  absl::MutexLock lock(&mu_);
  --ready_callbacks_running_;
}

void Supervisor::OnEof(uint64_t child_id, std::vector<std::string> tail) {
  absl::MutexLock lock(&mu_);
  auto it = child_index_.find(child_id);
  if (it == child_index_.end()) return;
  Replica& r = replicas_[it->second];
  child_index_.erase(it);
  if (r.child_id != child_id) return;
  r.output_done = true;
  r.last_output = std::move(tail);
}

void Supervisor::Run() {
  pthread_setname_np(pthread_self(), "shoal-supervise");
  while (true) {
    std::vector<Exit> unexpected;
    {
      absl::MutexLock lock(&mu_);
      if (exit_thread_) break;
      // Under the lock, so that Stop() never signals a pid this thread has just reaped.
      unexpected = HandleExitsLocked(ReapLocked());
      RestartDueLocked();
    }
    for (const Exit& e : unexpected) {
      if (callbacks_.on_exit) callbacks_.on_exit(e.index, e.exit_code);
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&exit_thread_), kReapInterval);
  }
}

std::vector<Supervisor::Exit> Supervisor::ReapLocked() {
  std::vector<Exit> exits;
  for (size_t index = 0; index < replicas_.size(); ++index) {
    const pid_t pid = replicas_[index].pid;
    if (pid <= 0) continue;
    siginfo_t info{};
    // WNOWAIT leaves the zombie, so the pid (and its process group id) cannot be reused while
    // the rest of the group is killed. Nothing here blocks.
    if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == ECHILD) exits.push_back(Exit{index, pid, -1});  // reaped by someone else
      continue;
    }
    if (info.si_pid != pid) continue;  // still running
    SignalChildGroup(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    exits.push_back(Exit{index, pid, ExitCodeFromWaitStatus(status)});
  }
  return exits;
}

std::vector<Supervisor::Exit> Supervisor::HandleExitsLocked(const std::vector<Exit>& exits) {
  std::vector<Exit> unexpected;
  absl::Time now = absl::Now();
  for (const Exit& e : exits) {
    Replica& r = replicas_[e.index];
    if (r.pid != e.pid) continue;
    State was = r.state;
    r.pid = -1;
    r.last_pid = e.pid;
    r.exit_code = e.exit_code;
    if (stopping_ || r.removed) {
      r.state = State::kStopped;
      continue;
    }
    if (options_.damaged_exit_code != 0 && e.exit_code == options_.damaged_exit_code) {
      // Its state on disk is damaged: a restart would fail the same way.
      r.state = State::kDamaged;
      SHOAL_LOG_ERROR(
          "replica %s (pid %d) stopped: its state is damaged (see its output); it "
          "is not restarted",
          r.spec.name, e.pid);
      if (!start_phase_ && !r.adding) unexpected.push_back(e);
      continue;
    }
    if (start_phase_ || r.adding) {
      r.state = State::kFailed;
      continue;
    }
    unexpected.push_back(e);
    std::string what = absl::StrCat("replica ", r.spec.name, " (pid ", e.pid, ") exited with ",
                                    DescribeExitCode(e.exit_code));
    if (!options_.restart) {
      r.state = State::kStopped;
      SHOAL_LOG_WARNING("%s; not restarting", what);
      continue;
    }
    if (was == State::kReady && now - r.ready_since >= kStableAfter) {
      r.backoff = options_.initial_backoff;
    }
    // It may have failed to bind its old port: let the next try pick one.
    if (was == State::kStarting) r.next_port = 0;
    absl::Duration delay = r.backoff;
    r.backoff = std::min(r.backoff * 2, options_.max_backoff);
    r.state = State::kBackoff;
    r.restart_at = now + delay;
    SHOAL_LOG_WARNING("%s; restarting in %s", what, Milliseconds(delay));
  }
  return unexpected;
}

void Supervisor::RestartDueLocked() {
  if (stopping_) return;
  absl::Time now = absl::Now();
  for (size_t i = 0; i < replicas_.size(); ++i) {
    Replica& r = replicas_[i];
    if (r.state != State::kBackoff || r.restart_at > now) continue;
    absl::Status status = SpawnLocked(i);
    if (status.ok()) {
      r.restarts.Increment();
      continue;
    }
    absl::Duration delay = r.backoff;
    r.backoff = std::min(r.backoff * 2, options_.max_backoff);
    r.restart_at = now + delay;
    SHOAL_LOG_ERROR("%s; retrying in %s", status.ToString(), Milliseconds(delay));
  }
}

bool Supervisor::AllReaped() const {
  return std::all_of(replicas_.begin(), replicas_.end(),
                     [](const Replica& r) { return r.pid <= 0; });
}

void Supervisor::SignalAllLocked(int sig) {
  for (const Replica& r : replicas_) SignalChildGroup(r.pid, sig);
}

void Supervisor::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopping_ = true;
    for (Replica& r : replicas_) {
      if (r.pid <= 0 && r.state != State::kDamaged) r.state = State::kStopped;
    }
    SignalAllLocked(SIGTERM);
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &Supervisor::AllReaped),
                              options_.stop_timeout)) {
      for (const Replica& r : replicas_) {
        if (r.pid <= 0) continue;
        SHOAL_LOG_WARNING("replica %s (pid %d) still running %s after SIGTERM; sending SIGKILL",
                          r.spec.name, r.pid, Milliseconds(options_.stop_timeout));
      }
      SignalAllLocked(SIGKILL);
      if (!mu_.AwaitWithTimeout(absl::Condition(this, &Supervisor::AllReaped), kKillGrace)) {
        SHOAL_LOG_ERROR("some replicas survived SIGKILL for %s; leaving them",
                        Milliseconds(kKillGrace));
      }
    }
    exit_thread_ = true;
  }
  if (thread_.joinable()) thread_.join();
  pump_->Stop();  // prints what the pipes still hold
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

}  // namespace shoal::orchestrator
