// Finds the leader of a stateful shard from the outside: the replica that accepts a write sent
// to it alone (followers refuse writes).
#ifndef SHOAL_TESTS_TESTING_LEADER_PROBE_H_
#define SHOAL_TESTS_TESTING_LEADER_PROBE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace shoal::testing {

struct LeaderProbe {
  std::string endpoint = "/index";                    // a write endpoint of the shard's Executor
  std::string id_prefix = "leader-probe";             // request ids: <prefix>-<round>-<replica>
  int rounds = 100;                                   // passes over every replica
  absl::Duration pause = absl::Milliseconds(100);     // between passes
  absl::Duration timeout = absl::Milliseconds(2000);  // per write
};

// The index in `addresses` of the replica that accepts an empty write to `probe.endpoint`; -1
// when none does within `probe.rounds` passes. Each probe is a write the leader applies.
int FindLeader(const std::vector<std::string>& addresses, const LeaderProbe& probe = {});

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_LEADER_PROBE_H_
