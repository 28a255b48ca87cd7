// Spawning one child process of the orchestrator: explicit argv and environment, stdout and
// stderr on pipes, its own process group. The Supervisor (supervisor.h) builds on this; the
// LogPump (log_pump.h) reads the pipes.
#ifndef SHOAL_ORCHESTRATOR_PROCESS_H_
#define SHOAL_ORCHESTRATOR_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shoal::orchestrator {

// The environment variable through which a child learns its parent's pid, so that it can arrange
// to die with the orchestrator (PR_SET_PDEATHSIG plus a check that the parent is still it).
inline constexpr char kParentPidEnv[] = "SHOAL_PARENT_PID";

// A file descriptor, closed on destruction. Move-only; thread-compatible.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A child just spawned: the caller owns the read ends of its stdout and stderr pipes (both
// O_CLOEXEC and O_NONBLOCK) and must reap `pid` with waitpid.
struct ChildProcess {
  pid_t pid = -1;
  UniqueFd stdout_fd;
  UniqueFd stderr_fd;
};

// Starts `argv[0]` (a path; PATH is not searched) with `argv` as its arguments and, as its
// environment, this process's environment with `env` added or overriding, plus
// SHOAL_PARENT_PID=<our pid>. The child's stdin is /dev/null, its stdout and stderr are pipes to
// us, its signal mask is empty and every signal has its default disposition, and it leads a new
// process group (so a terminal's Ctrl-C reaches only the orchestrator).
//
// InvalidArgument for an empty argv or a malformed variable name; otherwise the error of
// posix_spawn (e.g. NotFound when argv[0] does not exist), naming argv[0].
// Thread-safe, except against a concurrent setenv/putenv in this process (environ is read).
absl::StatusOr<ChildProcess> SpawnChild(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& env);

// The exit code of a waitpid status: the code the child exited with, or 128 + the signal that
// killed it (as shells report it).
int ExitCodeFromWaitStatus(int status);

// "code 1", or "code 137 (killed by SIGKILL)" for codes above 128 that name a signal.
std::string DescribeExitCode(int exit_code);

// Sends `sig` to the process group that `pid` leads, or to `pid` alone where it left that group.
// Only for a child of ours that is not yet reaped: until then neither number can be reused.
void SignalChildGroup(pid_t pid, int sig);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_PROCESS_H_
