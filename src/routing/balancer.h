// Replica choice: the least loaded replica gets the request. Pure functions over a snapshot of
// per-replica state, so the policy is tested without sockets.
#ifndef SHOAL_ROUTING_BALANCER_H_
#define SHOAL_ROUTING_BALANCER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace shoal::routing {

struct Candidate {
  int outstanding = 0;  // requests sent and not yet answered
  bool healthy = true;  // false while ejected
  bool tried = false;   // already tried by this request
};

// Pools up to this size are scanned whole: the least loaded replica wins. Larger pools use the
// power of two choices (two random candidates, the less loaded wins), which keeps the pick O(1)
// and avoids herding on one replica when many routers share a pool.
inline constexpr size_t kFullScanLimit = 8;

// Picks among untried replicas, healthy ones first (an ejected replica is tried only when no
// healthy one is left). Ties go round robin from `rotation`. `random` feeds the two choices.
// nullopt when every replica was tried.
std::optional<size_t> PickReplica(std::span<const Candidate> candidates, uint64_t rotation,
                                  uint64_t random);

// Jina's policy, kept for comparison: the next untried replica in turn, healthy ones first,
// whatever their load.
std::optional<size_t> PickRoundRobin(std::span<const Candidate> candidates, uint64_t rotation);

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_BALANCER_H_
