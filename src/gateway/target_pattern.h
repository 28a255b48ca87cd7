// A request's `target_executor`: a regular expression that picks the nodes a request runs on,
// matched as Python's re.match (anchored at the start of the node's name, not at its end). Run
// by RE2, whose matching time is linear in the name, so a client's pattern cannot stall the
// gateway (std::regex backtracks: a nested-star pattern took minutes).
#ifndef SHOAL_GATEWAY_TARGET_PATTERN_H_
#define SHOAL_GATEWAY_TARGET_PATTERN_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "shoal/status.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace shoal::gateway {

// Thread-safe, immutable.
class TargetPattern {
 public:
  // Longer patterns are refused (node names are short).
  static constexpr size_t kMaxLength = 256;
  // RE2's memory budget for one compiled pattern (its default is 8 MiB).
  static constexpr int64_t kMaxMemBytes = 1 << 20;

  // INVALID_ARGUMENT naming the pattern and why: too long, or not RE2 syntax (RE2 has no
  // backreferences or lookaround), or over the memory budget.
  static StatusOr<std::unique_ptr<TargetPattern>> Compile(std::string_view pattern);
  ~TargetPattern();

  // Python's re.match(pattern, name) is not None.
  bool Matches(std::string_view name) const;

 private:
  explicit TargetPattern(std::unique_ptr<re2::RE2> re);
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_TARGET_PATTERN_H_
