// Reloading `shoal deployment` and `shoal flow` on SIGHUP, and the status file through which
// `shoal rollout` learns the outcome. The file, one line `<reloads> <state> <message>`:
//   0 serving               after the start
//   3 reloading             while the fourth reload runs
//   4 ok updated uses       after it (or `4 error <why>`)
// It is written whole (a temporary file renamed over it), so a reader never sees half a line.
// A file, not a network port: a port that changes `uses` would let any client that reaches it
// run code on the machine; the file only reports, and only who may signal the process (its
// owner, root) can start a reload.
#ifndef SHOAL_CLI_RELOAD_H_
#define SHOAL_CLI_RELOAD_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "shoal/status.h"

namespace shoal::cli {

struct ReloadStatus {
  uint64_t reloads = 0;  // reloads finished
  std::string state;     // serving, reloading, ok or error
  std::string message;
};

// $XDG_RUNTIME_DIR/shoal-<pid>.status, else /tmp/shoal-<pid>.status.
std::string DefaultStatusFile(pid_t pid);
Status WriteReloadStatus(const std::string& path, const ReloadStatus& status);
// NOT_FOUND when there is no file; PERMISSION_DENIED, naming `path`, for a symbolic link,
// anything but a regular file, or a file not owned by `owner` (when given); INVALID_ARGUMENT when
// it holds no status line. The checks and the read use one descriptor.
StatusOr<ReloadStatus> ReadReloadStatus(const std::string& path,
                                        std::optional<uid_t> owner = std::nullopt);

// Thread-safe. Runs `reload` on its own thread once per Request() (requests arriving during a
// reload make one more run after it), logging and recording each outcome in the status file.
class Reloader {
 public:
  Reloader(std::string status_file, std::function<Status()> reload);
  ~Reloader();  // Join()s; removes the status file
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  void Request() ABSL_LOCKS_EXCLUDED(mu_);
  // No further reload starts; one under way finishes (stop what it updates to end it sooner).
  void RequestStop() ABSL_LOCKS_EXCLUDED(mu_);
  void Join();

 private:
  void Run();
  bool Woken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ || stopping_; }

  const std::string status_file_;
  const std::function<Status()> reload_;
  absl::Mutex mu_;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t reloads_ = 0;  // owned by the thread
  std::thread thread_;
};

}  // namespace shoal::cli

#endif  // SHOAL_CLI_RELOAD_H_
