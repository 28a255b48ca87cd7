// PollingTable: Jina's per-endpoint polling with its pre-seeded defaults.
#include "src/routing/polling.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace shoal::routing {

PollingTable::PollingTable() : PollingTable(Polling::kAny, {}) {}

PollingTable::PollingTable(Polling fallback, std::map<std::string, Polling> per_endpoint)
    : fallback_(fallback) {
  per_endpoint_.emplace("/search", Polling::kAll);
  per_endpoint_.emplace("/index", Polling::kAny);
  for (auto& [endpoint, polling] : per_endpoint) per_endpoint_[endpoint] = polling;
}

Polling PollingTable::For(std::string_view endpoint) const {
  auto it = per_endpoint_.find(endpoint);
  return it == per_endpoint_.end() ? fallback_ : it->second;
}

StatusOr<Polling> ParsePolling(std::string_view text) {
  std::string upper = absl::AsciiStrToUpper(AsAbsl(text));
  if (upper == "ANY") return Polling::kAny;
  if (upper == "ALL") return Polling::kAll;
  return absl::InvalidArgumentError(absl::StrCat("polling '", AsAbsl(text), "' is not ANY or ALL"));
}

}  // namespace shoal::routing
