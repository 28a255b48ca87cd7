// What this machine can hold, checked before any replica starts: the replica processes of the
// Deployments to start against each one's max_replicas, and all of them together against the
// tasks, file descriptors and memory the machine has left. A plan that cannot fit is refused
// whole, with nothing spawned.
#ifndef SHOAL_ORCHESTRATOR_CAPACITY_H_
#define SHOAL_ORCHESTRATOR_CAPACITY_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "shoal/status.h"
#include "src/config/deployment_spec.h"

namespace shoal::orchestrator {

// The least one replica process costs, below what a replica of the smallest built-in Executor
// (Echo) takes once it serves (17 threads, 28 MiB resident), so that a plan is refused only when
// it cannot fit: threads it starts, descriptors the orchestrator holds for it (its two log pipes
// and a connection), and memory.
inline constexpr uint64_t kTasksPerReplica = 8;
inline constexpr uint64_t kFdsPerReplica = 3;
inline constexpr uint64_t kBytesPerReplica = uint64_t{16} << 20;

// What is left on this machine; each bound with the words that name it in an error.
// Immutable once read.
struct MachineLimits {
  static constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  uint64_t tasks = kUnlimited;   // threads that may still start
  std::string tasks_source;      // e.g. "kernel.pid_max 32768"
  uint64_t fds = kUnlimited;     // descriptors this process may still open
  std::string fds_source;        // e.g. "RLIMIT_NOFILE 1024 (hard limit), 20 open"
  uint64_t memory = kUnlimited;  // bytes
  std::string memory_source;     // e.g. "MemAvailable 3.2 GiB"
};

// Reads the limits now: RLIMIT_NPROC (not enforced for root), kernel.threads-max and
// kernel.pid_max for tasks; RLIMIT_NOFILE's hard limit less the descriptors open now (the soft
// limit is raised to it when a plan needs more, see RaiseOpenFileLimit); MemAvailable, or the
// cgroup's memory.max less memory.current when lower. A bound it cannot read stays unlimited.
MachineLimits ReadMachineLimits();

// `processes` more replica processes against `machine`. ResourceExhausted naming `what` (the
// plan, e.g. "Flow 'f' (a: 2 x 1, b: 100000 x 1)"), the count, the bound, its source and the
// per-replica cost.
Status CheckMachineCapacity(uint64_t processes, const std::string& what,
                            const MachineLimits& machine);

// The whole check for Deployments about to start: each one's CheckReplicaLimit, then their
// replica processes together against ReadMachineLimits(); raises RLIMIT_NOFILE's soft limit as
// far as the plan needs. `what` names the plan in errors.
Status CheckCanStart(const std::vector<const config::DeploymentSpec*>& specs, int max_replicas,
                     const std::string& what);

// Raises the soft RLIMIT_NOFILE so that `more` descriptors can open, up to the hard limit (the
// soft limit is often 1024 for select()'s sake; Go programs raise it the same way).
void RaiseOpenFileLimit(uint64_t more);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_CAPACITY_H_
