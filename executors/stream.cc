// The Stream built-in Executor (docs/executors.md): n copies of the input, one at a time.
#include "executors/stream.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "executors/echo.h"
#include "src/common/log.h"
#include "src/common/strings.h"

namespace shoal::builtin {
namespace {

// Waits `ms`, waking early when the caller goes away.
void Wait(double ms, const DocWriter& out) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double, std::milli>(ms));
  while (!out.cancelled() && Clock::now() < until) {
    Clock::duration left = until - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(2), left));
  }
}

}  // namespace

Status Stream::Generate(const Doc& in, const Params& params, DocWriter& out) {
  const int64_t n = params.Get("n", with_.Get("n", int64_t{3}));
  const double ms = params.Get("ms", with_.Get("ms", 0.0));
  const int64_t fail_after = params.Get("fail_after", int64_t{-1});
  if (n < 0 || ms < 0) {
    return absl::InvalidArgumentError("Stream: n and ms must not be negative");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (i == fail_after) {
      return absl::InternalError(
          absl::StrCat("Stream failed on purpose after ", i, " documents (parameters.fail_after)"));
    }
    if (ms > 0) Wait(ms, out);
    DocList one;
    Doc doc = one.Append(in);
    doc.set_id(absl::StrCat(AsAbsl(in.id()), "-", i));
    doc.set_text(absl::StrCat(AsAbsl(in.text()), " ", i));
    doc.SetText(kServedByField, runtime_name());
    if (out.cancelled() || !out.Write(doc)) {
      SHOAL_LOG_INFO("Stream: the caller went away after %d of %d documents", i, n);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

SHOAL_EXECUTOR(Stream);

}  // namespace shoal::builtin
