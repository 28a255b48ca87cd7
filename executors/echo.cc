// The Echo built-in Executor (DESIGN.md §5): returns the docs of any endpoint, marked with the
// name of the replica that served them.
#include "executors/echo.h"

namespace shoal::builtin {

void SetServedBy(DocList& docs, std::string_view runtime_name) {
  for (Doc doc : docs) doc.SetText(kServedByField, runtime_name);
}

Status Echo::Default(DocList& docs, const Params& params) {
  SetServedBy(docs, runtime_name());
  return absl::OkStatus();
}

SHOAL_EXECUTOR(Echo);

}  // namespace shoal::builtin
