// Least-loaded / power-of-two-choices replica selection.
#include "src/routing/balancer.h"

#include <vector>

namespace shoal::routing {
namespace {

// Least loaded among `eligible`, starting the scan at `rotation` so ties rotate.
size_t LeastLoaded(std::span<const Candidate> candidates, const std::vector<size_t>& eligible,
                   uint64_t rotation) {
  size_t n = eligible.size();
  size_t best = eligible[rotation % n];
  for (size_t k = 1; k < n; ++k) {
    size_t i = eligible[(rotation + k) % n];
    if (candidates[i].outstanding < candidates[best].outstanding) best = i;
  }
  return best;
}

}  // namespace

std::optional<size_t> PickReplica(std::span<const Candidate> candidates, uint64_t rotation,
                                  uint64_t random) {
  std::vector<size_t> eligible;
  eligible.reserve(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].tried && candidates[i].healthy) eligible.push_back(i);
  }
  if (eligible.empty()) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (!candidates[i].tried) eligible.push_back(i);
    }
  }
  if (eligible.empty()) return std::nullopt;
  if (eligible.size() <= kFullScanLimit) return LeastLoaded(candidates, eligible, rotation);
  size_t n = eligible.size();
  size_t ia = random % n;
  size_t ib = (random / n) % (n - 1);  // a second, distinct position
  if (ib >= ia) ++ib;
  size_t a = eligible[ia];
  size_t b = eligible[ib];
  if (candidates[a].outstanding != candidates[b].outstanding) {
    return candidates[a].outstanding < candidates[b].outstanding ? a : b;
  }
  return (rotation & 1) ? a : b;
}

std::optional<size_t> PickRoundRobin(std::span<const Candidate> candidates, uint64_t rotation) {
  for (bool need_healthy : {true, false}) {
    for (size_t k = 0; k < candidates.size(); ++k) {
      size_t i = (rotation + k) % candidates.size();
      if (!candidates[i].tried && (candidates[i].healthy || !need_healthy)) return i;
    }
  }
  return std::nullopt;
}

}  // namespace shoal::routing
