// Dynamic batching as configured in YAML (an Executor YAML's `dynamic_batching:`, a Deployment's
// `uses_dynamic_batching:`) and on the `shoal executor --uses-dynamic-batching` flag (JSON):
// `{'/endpoint': {preferred_batch_size: 32, timeout: 50, ...}}`, validated key by key.
#ifndef SHOAL_CONFIG_DYNAMIC_BATCHING_H_
#define SHOAL_CONFIG_DYNAMIC_BATCHING_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "shoal/executor.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace shoal::config {

// Endpoint -> its options; nullopt for `use_dynamic_batching: false` (batching switched off for
// that endpoint, over a lower source).
using DynamicBatchingTable = std::map<std::string, std::optional<BatchingOptions>, std::less<>>;

// The keys of one endpoint's entry: Jina's preferred_batch_size (null: none), timeout (ms),
// flush_all, use_dynamic_batching, custom_metric and use_custom_metric (refused unless unset),
// and Triton's max_queue_delay (us), max_batch_size, max_queue_size.
inline constexpr std::string_view kDynamicBatchingKeys =
    "preferred_batch_size, timeout, flush_all, use_dynamic_batching, max_queue_delay, "
    "max_batch_size, max_queue_size";

// Reads `node` (a map of endpoint to options; null: empty), `key` its dotted path. Errors are
// InvalidArgument "file:line:column: key 'k./e.x': ..." for an endpoint that does not start with
// '/', an unknown key, a wrong type, a size or delay that is not positive.
absl::StatusOr<DynamicBatchingTable> ReadDynamicBatching(const YAML::Node& node,
                                                         std::string_view filename,
                                                         std::string_view key);
// The same from JSON text; `what` names it in errors ("--uses-dynamic-batching").
absl::StatusOr<DynamicBatchingTable> ParseDynamicBatchingJson(std::string_view json,
                                                              std::string_view what);
// The table as JSON that ParseDynamicBatchingJson reads back (for replicas' argv, exports).
std::string DynamicBatchingToJson(const DynamicBatchingTable& table);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_DYNAMIC_BATCHING_H_
