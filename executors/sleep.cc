// The Sleep built-in Executor (DESIGN.md §5): sleeps `ms` milliseconds, taken from the request's
// parameters or else from uses_with, then answers as Echo. It stops early (an error nobody reads)
// once the caller is gone.
#include "executors/sleep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "absl/strings/str_format.h"
#include "executors/echo.h"

namespace shoal::builtin {
namespace {

constexpr std::string_view kMsKey = "ms";

// The `ms` of `source` (named `where` in errors): nullopt when absent, an error when it is not a
// finite, non-negative number.
StatusOr<std::optional<double>> ReadMs(const Params& source, std::string_view where) {
  if (!source.Has(kMsKey)) return std::optional<double>();
  std::optional<double> ms = source.GetDouble(kMsKey);
  if (!ms.has_value() || !std::isfinite(*ms) || *ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Sleep: %s.ms must be a non-negative number of milliseconds", where));
  }
  return ms;
}

}  // namespace

Status Sleep::Default(DocList& docs, const Params& params) {
  SHOAL_ASSIGN_OR_RETURN(std::optional<double> ms, ReadMs(params, "parameters"));
  if (!ms.has_value()) {
    SHOAL_ASSIGN_OR_RETURN(ms, ReadMs(with_, "uses_with"));
  }
  if (ms.has_value() && *ms > 0) {
    // In slices, so that a caller that is gone (cancelled, deadline passed) frees the replica
    // within a slice.
    const auto end = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double, std::milli>(*ms));
    for (auto now = std::chrono::steady_clock::now(); now < end;
         now = std::chrono::steady_clock::now()) {
      if (request_cancelled()) {
        return absl::CancelledError(
            absl::StrFormat("Sleep: the caller is gone; stopped %.1f ms early",
                            std::chrono::duration<double, std::milli>(end - now).count()));
      }
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(1)));
    }
  }
  SetServedBy(docs, runtime_name());
  return absl::OkStatus();
}

SHOAL_EXECUTOR(Sleep);

}  // namespace shoal::builtin
