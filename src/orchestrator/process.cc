// posix_spawn with pipes, an explicit environment and a process group per child.
#include "src/orchestrator/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "src/common/task_thread.h"

extern char** environ;

namespace shoal::orchestrator {
namespace {

absl::Status ErrnoStatus(int error, std::string_view what) {
  std::string message = absl::StrFormat("%s: %s", what, strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EAGAIN:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

// A pipe whose both ends are O_CLOEXEC, so that no other child (spawned concurrently by another
// thread) inherits them; posix_spawn's dup2 onto 1 and 2 clears the flag on the child's copies.
absl::Status MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  // Non-blocking on our end only: the child's end is a different open file description.
  int flags = fcntl(fds[0], F_GETFL);
  if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, "fcntl(O_NONBLOCK)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> BuildEnvironment(
    const std::map<std::string, std::string>& overrides) {
  for (const auto& [key, value] : overrides) {
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad environment variable name '", key, "'"));
    }
  }
  std::vector<std::string> result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view key = text.substr(0, text.find('='));
    if (key == kParentPidEnv || overrides.count(std::string(key)) > 0) continue;
    result.emplace_back(text);
  }
  for (const auto& [key, value] : overrides) {
    if (key != kParentPidEnv) result.push_back(absl::StrCat(key, "=", value));
  }
  result.push_back(absl::StrCat(kParentPidEnv, "=", getpid()));
  return result;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (std::string& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

// posix_spawn's attribute and file-action objects, destroyed on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // Returns an errno value, 0 on success.
  int Configure(int stdout_write, int stderr_write) {
    sigset_t empty;
    sigset_t all;
    sigemptyset(&empty);
    sigfillset(&all);
    int error = 0;
    if (error == 0) error = posix_spawnattr_setpgroup(&attr_, 0);
    if (error == 0) error = posix_spawnattr_setsigmask(&attr_, &empty);
    if (error == 0) error = posix_spawnattr_setsigdefault(&attr_, &all);
    if (error == 0) {
      error = posix_spawnattr_setflags(
          &attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
    if (error == 0) {
      error = posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    if (error == 0) error = posix_spawn_file_actions_adddup2(&actions_, stdout_write, 1);
    if (error == 0) error = posix_spawn_file_actions_adddup2(&actions_, stderr_write, 2);
    return error;
  }

  const posix_spawnattr_t* attr() const { return &attr_; }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() { return std::exchange(fd_, -1); }

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

namespace {

absl::StatusOr<ChildProcess> SpawnOnThisThread(const std::vector<std::string>& argv,
                                               const std::map<std::string, std::string>& env);

}  // namespace

absl::StatusOr<ChildProcess> SpawnChild(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& env) {
  // Children die with their parent *thread* (PR_SET_PDEATHSIG follows the thread that forked),
  // so every child is spawned by one thread that lives as long as the process.
  static TaskThread* spawner = new TaskThread("shoal-spawner");
  absl::StatusOr<ChildProcess> result = absl::UnknownError("not spawned");
  absl::Notification done;
  spawner->Post([&] {
    result = SpawnOnThisThread(argv, env);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

namespace {

absl::StatusOr<ChildProcess> SpawnOnThisThread(const std::vector<std::string>& argv,
                                               const std::map<std::string, std::string>& env) {
  if (argv.empty() || argv[0].empty()) return absl::InvalidArgumentError("empty argv");
  absl::StatusOr<std::vector<std::string>> env_strings = BuildEnvironment(env);
  if (!env_strings.ok()) return env_strings.status();
  std::vector<std::string> argv_strings = argv;
  std::vector<char*> c_argv = CStrings(argv_strings);
  std::vector<char*> c_env = CStrings(*env_strings);

  ChildProcess child;
  UniqueFd stdout_write;
  UniqueFd stderr_write;
  if (absl::Status s = MakePipe(child.stdout_fd, stdout_write); !s.ok()) return s;
  if (absl::Status s = MakePipe(child.stderr_fd, stderr_write); !s.ok()) return s;

  SpawnSetup setup;
  if (int error = setup.Configure(stdout_write.get(), stderr_write.get()); error != 0) {
    return ErrnoStatus(error, "preparing posix_spawn");
  }
  // glibc's posix_spawn returns only after the exec, reporting its error too.
  int error = posix_spawn(&child.pid, argv[0].c_str(), setup.actions(), setup.attr(), c_argv.data(),
                          c_env.data());
  if (error != 0) return ErrnoStatus(error, absl::StrCat("spawning '", argv[0], "'"));
  return child;  // the write ends close here: only the child holds them now
}

}  // namespace

int ExitCodeFromWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string DescribeExitCode(int exit_code) {
  std::string text = absl::StrCat("code ", exit_code);
  if (exit_code > 128 && exit_code < 128 + NSIG) {
    const char* name = sigabbrev_np(exit_code - 128);
    if (name != nullptr) absl::StrAppend(&text, " (killed by SIG", name, ")");
  }
  return text;
}

void SignalChildGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  if (kill(-pid, sig) != 0) kill(pid, sig);
}

}  // namespace shoal::orchestrator
