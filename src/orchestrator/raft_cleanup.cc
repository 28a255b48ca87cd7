// Retried removal of a Raft member, and the command that removes it by hand.
#include "src/orchestrator/raft_cleanup.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/log.h"

namespace shoal::orchestrator {

Status RemoveRaftMemberWithRetries(const std::function<Status(absl::Duration)>& remove,
                                   const std::string& id, const std::vector<std::string>& via,
                                   absl::Duration per_try, absl::Time deadline, int max_tries) {
  absl::Duration pause = absl::Milliseconds(200);
  Status removed = absl::OkStatus();
  for (int tries = 1;; ++tries) {
    // Each try gets what is left before the deadline, but at least a short while.
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(500));
    removed = remove(std::min(per_try, left));
    if (removed.ok()) return removed;
    if (tries >= max_tries || absl::Now() + pause >= deadline) break;
    SHOAL_LOG_WARNING("Raft member '%s' is still in its group (%s); trying again", id,
                      removed.message());
    absl::SleepFor(pause);
    pause *= 2;
  }
  const std::string command =
      absl::StrCat("shoal raft remove --id ", id, " --via ", absl::StrJoin(via, ","));
  SHOAL_LOG_ERROR(
      "Raft member '%s' failed to start and could not be taken out of its group (%s): it "
      "counts as a voter that never answers; remove it with `%s`",
      id, removed.message(), command);
  return absl::Status(removed.code(),
                      absl::StrCat("Raft member '", id, "' is still a voter of its group (",
                                   removed.message(), "); remove it with `", command, "`"));
}

}  // namespace shoal::orchestrator
