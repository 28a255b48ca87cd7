// Process-wide logging: one line per message on stderr, prefixed with the time, the severity
// and this process's name (`name/rep-i@pid` for a replica), so that an orchestrator can merge
// the lines of many processes.
#ifndef SHOAL_COMMON_LOG_H_
#define SHOAL_COMMON_LOG_H_

#include <string>
#include <string_view>

#include "absl/strings/str_format.h"

namespace shoal {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the prefix of every line (default: the program name). Thread-safe.
void SetLogName(std::string_view name);
// Messages below `level` are dropped (default kInfo; env SHOAL_LOG_LEVEL=debug|info|warning|error).
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Writes one line. Thread-safe: lines of concurrent writers never interleave.
void LogLine(LogLevel level, std::string_view message);

}  // namespace shoal

#define SHOAL_LOG_AT_(level, ...)                                                            \
  do {                                                                                       \
    if (::shoal::LogEnabled(level)) ::shoal::LogLine(level, ::absl::StrFormat(__VA_ARGS__)); \
  } while (false)
#define SHOAL_LOG_DEBUG(...) SHOAL_LOG_AT_(::shoal::LogLevel::kDebug, __VA_ARGS__)
#define SHOAL_LOG_INFO(...) SHOAL_LOG_AT_(::shoal::LogLevel::kInfo, __VA_ARGS__)
#define SHOAL_LOG_WARNING(...) SHOAL_LOG_AT_(::shoal::LogLevel::kWarning, __VA_ARGS__)
#define SHOAL_LOG_ERROR(...) SHOAL_LOG_AT_(::shoal::LogLevel::kError, __VA_ARGS__)

#endif  // SHOAL_COMMON_LOG_H_
