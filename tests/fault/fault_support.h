// What the fault tests share: the seed of their random choices and waiting for a restart.
#ifndef SHOAL_TESTS_FAULT_FAULT_SUPPORT_H_
#define SHOAL_TESTS_FAULT_FAULT_SUPPORT_H_

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>

#include "absl/time/time.h"
#include "shoal/deployment.h"
#include "tests/testing/wait.h"

namespace shoal::testing {

// The seed of a test binary's random choices: SHOAL_FAULT_SEED, else a random one; printed once
// so that a failing run can be replayed.
inline uint64_t FaultSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("SHOAL_FAULT_SEED");
    uint64_t value = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::cout << "fault test seed=" << value << " (replay with SHOAL_FAULT_SEED=" << value << ")"
              << std::endl;
    return value;
  }();
  return seed;
}

// Waits up to `limit` until replica `r` of shard 0 runs as a process other than `old_pid`.
inline bool Restarted(const Deployment& dep, int r, int old_pid, absl::Duration limit) {
  return WaitFor(
      [&] {
        const int pid = dep.replica_pid(0, r);
        return pid > 0 && pid != old_pid;
      },
      limit);
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_FAULT_FAULT_SUPPORT_H_
