// Reloader and the status file of SIGHUP reloads.
#include "src/cli/reload.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "src/common/log.h"

namespace shoal::cli {

std::string DefaultStatusFile(pid_t pid) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = runtime != nullptr && *runtime != '\0' ? runtime : "/tmp";
  return absl::StrCat(dir, "/shoal-", pid, ".status");
}

Status WriteReloadStatus(const std::string& path, const ReloadStatus& status) {
  // A fresh name next to it (mkstemp: never an existing file or link), then renamed over it.
  std::string temp = path + ".XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot write next to ", path, ": ", std::strerror(errno)));
  }
  const std::string line = absl::StrCat(status.reloads, " ", status.state, " ",
                                        absl::StrReplaceAll(status.message, {{"\n", " "}}), "\n");
  const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  if (!written || rename(temp.c_str(), path.c_str()) != 0) {
    unlink(temp.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

namespace {

// The first line of the file open at `fd` (at most 4 KiB).
std::string FirstLine(int fd) {
  std::string text(4096, '\0');
  size_t size = 0;
  while (size < text.size()) {
    const ssize_t n = read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  text.resize(size);
  return text.substr(0, text.find('\n'));
}

}  // namespace

StatusOr<ReloadStatus> ReadReloadStatus(const std::string& path, std::optional<uid_t> owner) {
  // Never through a link, and the checks on what was opened: nothing can be swapped in between.
  // O_NONBLOCK: a FIFO planted there is refused below rather than blocking the open.
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat("no status file ", path));
    if (error == ELOOP) {
      return absl::PermissionDeniedError(
          absl::StrCat("status file ", path, " is a symbolic link: refused"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open status file ", path, ": ", std::strerror(error)));
  }
  struct stat file_stat {};
  Status checked = absl::OkStatus();
  if (fstat(fd, &file_stat) != 0) {
    checked = absl::InternalError(absl::StrCat("cannot stat status file ", path));
  } else if (!S_ISREG(file_stat.st_mode)) {
    checked =
        absl::PermissionDeniedError(absl::StrCat("status file ", path, " is not a regular file"));
  } else if (owner.has_value() && file_stat.st_uid != *owner) {
    checked = absl::PermissionDeniedError(absl::StrCat("status file ", path, " is owned by uid ",
                                                       file_stat.st_uid, ", not uid ", *owner));
  }
  const std::string line = checked.ok() ? FirstLine(fd) : "";
  close(fd);
  SHOAL_RETURN_IF_ERROR(checked);
  std::istringstream words(line);
  std::string reloads;
  ReloadStatus status;
  words >> reloads >> status.state;
  std::getline(words, status.message);
  if (!status.message.empty() && status.message.front() == ' ') status.message.erase(0, 1);
  if (!absl::SimpleAtoi(reloads, &status.reloads) || status.state.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no reload status"));
  }
  return status;
}

Reloader::Reloader(std::string status_file, std::function<Status()> reload)
    : status_file_(std::move(status_file)), reload_(std::move(reload)) {
  Status written = WriteReloadStatus(status_file_, {.reloads = 0, .state = "serving"});
  if (!written.ok()) {
    SHOAL_LOG_ERROR("reload status file %s: %s; `shoal rollout` cannot follow this process",
                    status_file_, written.message());
  }
  thread_ = std::thread([this] { Run(); });
}

Reloader::~Reloader() {
  RequestStop();
  Join();
  std::error_code ignored;
  std::filesystem::remove(status_file_, ignored);
}

void Reloader::Request() {
  absl::MutexLock lock(&mu_);
  pending_ = true;
}

void Reloader::RequestStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void Reloader::Join() {
  if (thread_.joinable()) thread_.join();
}

void Reloader::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Reloader* r)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { return r->pending_ || r->stopping_; },
          this));
      if (stopping_) return;
      pending_ = false;
    }
    SHOAL_LOG_INFO("got SIGHUP: reloading");
    (void)WriteReloadStatus(status_file_, {.reloads = reloads_, .state = "reloading"});
    Status outcome = reload_();
    ++reloads_;
    if (outcome.ok()) {
      SHOAL_LOG_INFO("reload %d: ok", reloads_);
    } else {
      SHOAL_LOG_ERROR("reload %d failed: %s", reloads_, outcome.message());
    }
    Status written = WriteReloadStatus(
        status_file_, {.reloads = reloads_,
                       .state = outcome.ok() ? "ok" : "error",
                       .message = outcome.ok() ? "" : std::string(outcome.message())});
    if (!written.ok()) SHOAL_LOG_WARNING("reload status: %s", written.message());
  }
}

}  // namespace shoal::cli
