// Line-atomic stderr logging with a process name prefix.
#include "src/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shoal {
namespace {

LogLevel LevelFromEnv() {
  const char* env = std::getenv("SHOAL_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  std::string value = absl::AsciiStrToLower(env);
  if (value == "debug") return LogLevel::kDebug;
  if (value == "warning") return LogLevel::kWarning;
  if (value == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<int> g_level{static_cast<int>(LevelFromEnv())};

absl::Mutex& NameMutex() {
  static absl::Mutex mu;
  return mu;
}
std::string& Name() {
  static std::string name = "shoal";
  return name;
}

// Under an orchestrator, which prefixes each of our lines with `name@pid` itself.
bool PrefixedByParent() {
  static const bool prefixed = std::getenv("SHOAL_PARENT_PID") != nullptr;
  return prefixed;
}

const char* LevelTag(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void SetLogName(std::string_view name) {
  absl::MutexLock lock(&NameMutex());
  Name() = std::string(name);
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void LogLine(LogLevel level, std::string_view message) {
  std::string name;
  {
    absl::MutexLock lock(&NameMutex());
    name = Name();
  }
  std::string time = absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::LocalTimeZone());
  std::string line =
      PrefixedByParent()
          ? absl::StrFormat("%s %-5s %s\n", time, LevelTag(level), message)
          : absl::StrFormat("%s %-5s %s@%d %s\n", time, LevelTag(level), name, getpid(), message);
  // One write(2) per line keeps lines of concurrent writers (and processes) whole.
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

}  // namespace shoal
