// The Echo built-in Executor: answers every endpoint with the docs it was given, each marked with
// the replica that served it. Sleep, Fail and Counter reuse its marking.
#ifndef SHOAL_EXECUTORS_ECHO_H_
#define SHOAL_EXECUTORS_ECHO_H_

#include <string_view>

#include "shoal/executor.h"

namespace shoal::builtin {

// The text field that names the replica which served a doc.
inline constexpr std::string_view kServedByField = "served_by";

// Sets `served_by` of every doc in `docs` to `runtime_name`.
void SetServedBy(DocList& docs, std::string_view runtime_name);

// Returns the docs, each with `served_by` set to runtime_name(). Stateless; thread-compatible.
class Echo : public Executor {
 public:
  explicit Echo(const Config& with) {}

  static void Register(Endpoints<Echo>& e) { e.On(std::string(kDefaultEndpoint), &Echo::Default); }

  Status Default(DocList& docs, const Params& params);
};

}  // namespace shoal::builtin

#endif  // SHOAL_EXECUTORS_ECHO_H_
