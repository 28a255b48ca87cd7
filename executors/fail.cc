// The Fail built-in Executor (DESIGN.md §5): an Executor error when asked for one, else Echo.
#include "executors/fail.h"

#include "executors/echo.h"

namespace shoal::builtin {

Status Fail::Default(DocList& docs, const Params& params) {
  if (always_) {
    return absl::InternalError("Fail executor failed on purpose (uses_with.always is true)");
  }
  if (params.Get("fail", false)) {
    return absl::InternalError("Fail executor failed on purpose (parameters.fail is true)");
  }
  SetServedBy(docs, runtime_name());
  return absl::OkStatus();
}

SHOAL_EXECUTOR(Fail);

}  // namespace shoal::builtin
