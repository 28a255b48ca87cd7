// The Supervisor runs a Deployment's replica processes: it spawns them, waits for their
// `ready port=<n>` lines, prefixes their output, restarts the ones that crash with exponential
// backoff on the same port, and stops them with SIGTERM then SIGKILL (DESIGN.md §2).
#ifndef SHOAL_ORCHESTRATOR_SUPERVISOR_H_
#define SHOAL_ORCHESTRATOR_SUPERVISOR_H_

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/metrics/metrics.h"
#include "src/orchestrator/log_pump.h"

namespace shoal::orchestrator {

struct ReplicaProcessSpec {
  std::string name;                        // e.g. "indexer/rep-0" or "indexer/shard-1/rep-0"
  std::vector<std::string> argv;           // any element equal to "{port}" is replaced by the port
  std::map<std::string, std::string> env;  // added to / overriding the orchestrator's environment
};

// Thread-safe. Owns its replica processes, a log pump thread ("shoal-log-pump") and, once
// started, a supervisor thread ("shoal-supervise") that reaps only its own children (waitid on
// each pid, every 20 ms) and restarts them.
//
// States per replica: starting -> ready -> exited -> (backoff) -> starting ... -> stopped.
// A replica that exits while the Supervisor is not stopping is logged, reported through on_exit
// and restarted after a backoff that doubles from initial_backoff up to max_backoff, and resets
// once the replica has stayed ready for 30 s. The restart passes `{port}` = the port the replica
// reported, so its address stays stable; if it exits again before ready, the next try passes 0.
// When a replica's process exits, whatever is left of its process group is killed (as a pod's
// containers go with it), so no grandchild keeps its pipes open.
//
// Callbacks run on the supervisor or the log pump thread, never under a lock, and must not call
// Stop() or destroy the Supervisor.
class Supervisor {
 public:
  struct Options {
    // Start() waits this long for every ready line; absl::InfiniteDuration() allowed.
    absl::Duration ready_timeout = absl::Seconds(600);
    absl::Duration stop_timeout = absl::Seconds(10);  // SIGTERM, then SIGKILL after this
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(10);
    bool restart = true;
    // A replica that exits with this code (not 0) reports that its state on disk is damaged:
    // restarting cannot help. It is left stopped (never restarted), and during Start() it does
    // not fail the start: Damaged() reports it, and the caller decides.
    int damaged_exit_code = 0;
    // Receives each line of the children's output, `<name>@<pid> ` prefix included, without
    // the newline. Null: stderr, one write(2) per line.
    std::function<void(std::string_view line)> log_sink;
  };
  struct Callbacks {
    // Every time a replica (re)becomes ready, with the port it reported.
    std::function<void(size_t index, int port)> on_ready;
    // Every unexpected exit after Start() succeeded: the exit code, or 128 + the signal.
    std::function<void(size_t index, int exit_code)> on_exit;
  };

  Supervisor(std::vector<ReplicaProcessSpec> replicas, Options options, Callbacks callbacks);
  ~Supervisor();  // Stop()
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts every replica at once (`{port}` = "0") and waits until each printed its ready line
  // and on_ready returned for it.
  // The error names the replica that could not be spawned (its spawn error), exited
  // (FailedPrecondition) or timed out (DeadlineExceeded), and quotes the last ~20 lines of its
  // output. On error every replica already started is stopped. Only the first call starts
  // anything; a later one, or one after Stop(), is FailedPrecondition.
  absl::Status Start();

  // Adds a replica to a started Supervisor, spawns it (`{port}` = "0") and waits up to
  // ready_timeout for its ready line; returns its index. An exit or a timeout before the ready
  // line is an error as in Start(), and the replica stays, stopped.
  absl::StatusOr<size_t> Add(ReplicaProcessSpec replica);
  // Stops replica `index` for good (SIGTERM, SIGKILL after stop_timeout) and waits until it is
  // reaped; it is not restarted. Its index stays, stopped.
  void Remove(size_t index);
  // How long replicas added or restarted from now on may take to print their ready line
  // (Options::ready_timeout at first).
  void SetReadyTimeout(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // OK, or why replica `index` was left stopped for damaged state (its exit and last output).
  absl::Status Damaged(size_t index) const;
  int port(size_t index) const;   // the port it reported (kept across restarts); 0 before that
  pid_t pid(size_t index) const;  // current pid, -1 when not running
  size_t size() const;

  // SIGTERM to every replica's process group, SIGKILL after stop_timeout, waits until all are
  // reaped; no restarts once it begins. Idempotent; concurrent callers all wait for the end.
  void Stop();

 private:
  enum class State { kIdle, kStarting, kReady, kBackoff, kFailed, kDamaged, kStopped };
  struct Replica {
    ReplicaProcessSpec spec;
    State state = State::kIdle;
    pid_t pid = -1;                        // while spawned and not yet reaped
    pid_t last_pid = -1;                   // of the latest process reaped
    uint64_t child_id = 0;                 // of the latest process, for LogPump reports
    int port = 0;                          // last reported
    int next_port = 0;                     // `{port}` of the next spawn
    absl::Duration backoff;                // of the next restart
    absl::Time ready_since;                // in kReady
    absl::Time restart_at;                 // in kBackoff
    int exit_code = 0;                     // of the latest process
    bool output_done = false;              // the latest process's pipes reached end of file
    std::vector<std::string> last_output;  // its tail, once output_done
    metrics::Counter restarts;             // shoal_replica_restarts_total
    bool adding = false;                   // Add() waits for its first ready line
    bool removed = false;                  // Remove() stops it for good
  };
  struct Exit {
    size_t index;
    pid_t pid;
    int exit_code;
  };

  absl::Status SpawnLocked(size_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the exits ReapLocked() found; returns those to report through on_exit.
  std::vector<Exit> HandleExitsLocked(const std::vector<Exit>& exits)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RestartDueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reaps the replicas' processes that exited, after killing the rest of their groups.
  std::vector<Exit> ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();  // the supervisor thread
  void OnReady(uint64_t child_id, int port);
  void OnEof(uint64_t child_id, std::vector<std::string> tail);
  // Waits for every ready line; the error of Start() when one is missing.
  absl::Status AwaitReady() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string OutputTailLocked(const Replica& replica) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool StartSettled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why replica `r` did not become ready (exited or timed out), as Start() reports it.
  absl::Status NotReadyLocked(Replica& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Signals `r` until it is reaped: SIGTERM, then SIGKILL after stop_timeout.
  void StopOneLocked(Replica& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AllReaped() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SignalAllLocked(int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const Options options_;
  const Callbacks callbacks_;
  std::unique_ptr<LogPump> pump_;

  mutable absl::Mutex mu_;
  // A deque: Add() appends while waits hold references to other elements.
  std::deque<Replica> replicas_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, size_t> child_index_ ABSL_GUARDED_BY(mu_);  // LogPump id -> replica index
  uint64_t next_child_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration ready_timeout_ ABSL_GUARDED_BY(mu_);
  bool start_phase_ ABSL_GUARDED_BY(mu_) = false;  // Start() is waiting for ready lines
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool exit_thread_ ABSL_GUARDED_BY(mu_) = false;
  int ready_callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;  // Start() returns after them

  absl::Mutex stop_mu_;  // serialises Stop() callers
  std::thread thread_;   // the supervisor thread; started by Start(), joined by Stop()
};

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_SUPERVISOR_H_
