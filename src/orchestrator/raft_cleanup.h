// Taking a Raft member that failed to start out of its group again, with retries: a member left
// behind stays a voter that never answers, and the group tolerates one failure less.
#ifndef SHOAL_ORCHESTRATOR_RAFT_CLEANUP_H_
#define SHOAL_ORCHESTRATOR_RAFT_CLEANUP_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "shoal/status.h"

namespace shoal::orchestrator {

// Calls `remove(per_try)` (a removal of member `id` through `via`, the group's replicas as
// host:port) until it succeeds: at most `max_tries` times, pausing 200 ms, then twice as long
// each time, and not starting a try after `deadline` (the first try always runs). When every try
// failed, logs an ERROR and returns the last error naming `id` and the `shoal raft remove`
// command that removes it by hand.
Status RemoveRaftMemberWithRetries(const std::function<Status(absl::Duration)>& remove,
                                   const std::string& id, const std::vector<std::string>& via,
                                   absl::Duration per_try, absl::Time deadline, int max_tries = 4);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_RAFT_CLEANUP_H_
