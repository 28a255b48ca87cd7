// Bounded polling for tests: WaitFor checks a predicate until it holds or a limit passes.
#ifndef SHOAL_TESTS_TESTING_WAIT_H_
#define SHOAL_TESTS_TESTING_WAIT_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shoal::testing {

inline constexpr absl::Duration kDefaultWait = absl::Seconds(20);

// Calls `done` every `interval` until it returns true or `limit` passes; true when it held.
// `done` is called once more at the limit, so a predicate that holds by then is seen.
template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration limit = kDefaultWait,
             absl::Duration interval = absl::Milliseconds(50)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(interval);
  }
  return done();
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_WAIT_H_
