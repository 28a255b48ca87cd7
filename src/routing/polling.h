// Shard polling per endpoint: ANY (one shard) or ALL (every shard, results reduced), with Jina's
// defaults (`/search` ALL and `/index` ANY unless named).
#ifndef SHOAL_ROUTING_POLLING_H_
#define SHOAL_ROUTING_POLLING_H_

#include <map>
#include <string>
#include <string_view>

#include "shoal/status.h"

namespace shoal::routing {

enum class Polling { kAny, kAll };

// Immutable after construction.
class PollingTable {
 public:
  // `ANY` for every endpoint (but `/search`, which is ALL).
  PollingTable();
  // `fallback` is the '*' value; `per_endpoint` the named entries. Jina's defaults for
  // `/search` and `/index` apply unless named.
  PollingTable(Polling fallback, std::map<std::string, Polling> per_endpoint);

  Polling For(std::string_view endpoint) const;

 private:
  Polling fallback_;
  std::map<std::string, Polling, std::less<>> per_endpoint_;
};

// "ANY"/"ALL" in any case; anything else is an error naming the text.
StatusOr<Polling> ParsePolling(std::string_view text);

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_POLLING_H_
