// Reads the stdout and stderr pipes of every child of the orchestrator on one thread and turns
// them into whole lines on our stderr, each prefixed `<name>@<pid> `. A child's `ready port=<n>`
// line on stdout is not printed but reported, which is how the Supervisor learns that a replica
// serves (DESIGN.md §2).
#ifndef SHOAL_ORCHESTRATOR_LOG_PUMP_H_
#define SHOAL_ORCHESTRATOR_LOG_PUMP_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "src/orchestrator/process.h"

namespace shoal::orchestrator {

// The port in a `ready port=<n>` line (1..65535; trailing whitespace allowed), or nullopt.
std::optional<int> ParseReadyLine(std::string_view line);

// Thread-safe. One named thread ("shoal-log-pump") poll()s every added child's pipes; Add() and
// Stop() wake it through a self-pipe. Lines are at most kMaxLine bytes: a longer one is written
// in pieces of kMaxLine. Memory is bounded per child (two partial lines plus a tail of
// kTailLines lines of at most kMaxTailLine bytes each).
//
// The sink and the callbacks run on the pump thread, never under a lock; they must not call
// Stop(). Owned by the Supervisor. Stop() (or the destructor) reads what the pipes already hold,
// prints it, closes every pipe and joins.
class LogPump {
 public:
  static constexpr size_t kMaxLine = 64 * 1024;
  static constexpr size_t kTailLines = 20;
  static constexpr size_t kMaxTailLine = 1024;

  // Receives one line, prefix included, without its newline.
  using Sink = std::function<void(std::string_view line)>;
  struct Callbacks {
    // A child printed `ready port=<n>` on stdout.
    std::function<void(uint64_t id, int port)> on_ready;
    // Both pipes of a child reached end of file (its last lines were printed first); `tail` holds
    // its last kTailLines lines, without prefixes. The pump forgets the child afterwards.
    std::function<void(uint64_t id, std::vector<std::string> tail)> on_eof;
  };

  // A null `sink` writes each line to stderr with one write(2).
  LogPump(Sink sink, Callbacks callbacks);
  ~LogPump();
  LogPump(const LogPump&) = delete;
  LogPump& operator=(const LogPump&) = delete;

  // Starts reading a child's pipes; `id` is the caller's unique name for this child (it must not
  // be in use), `prefix` e.g. "indexer/rep-0@123". Ignored (the pipes closed) after Stop().
  void Add(uint64_t id, std::string prefix, UniqueFd stdout_fd, UniqueFd stderr_fd);

  // The last lines (without prefixes) a child still being read has printed, oldest first; empty
  // when `id` is unknown.
  std::vector<std::string> Tail(uint64_t id) const;

  // Idempotent.
  void Stop();

 private:
  struct Stream {
    UniqueFd fd;
    std::string partial;
    bool is_stdout = false;
  };
  struct Child {
    std::string prefix;
    Stream streams[2];
  };
  struct Pending {
    uint64_t id;
    Child child;
  };

  void Run();
  void TakePending(bool& stop);
  // Reads what `stream` holds now; returns false at end of file or on an error.
  bool ReadStream(uint64_t id, Child& child, Stream& stream);
  void EmitLine(uint64_t id, const Child& child, const Stream& stream, std::string_view line);
  void FinishChild(uint64_t id, Child& child);
  void Wake();

  // Constant after construction.
  const Sink sink_;
  const Callbacks callbacks_;
  UniqueFd wake_read_;
  UniqueFd wake_write_;

  // Owned by the pump thread.
  std::map<uint64_t, Child> children_;

  mutable absl::Mutex mu_;
  std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::deque<std::string>> tails_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex join_mu_;  // serialises Stop() callers around the join
  std::thread thread_;   // last: starts after the members above exist
};

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_LOG_PUMP_H_
