// PickFreePort from many threads at once, as the Deployments of a Flow start together (run
// under ThreadSanitizer, a shared generator is reported as a data race).
#include "src/orchestrator/free_port.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shoal::orchestrator {
namespace {

TEST(FreePortTest, ConcurrentPicksAreFreePortsBelowTheEphemeralRange) {
  constexpr int kThreads = 8;
  constexpr int kPicks = 25;
  std::vector<std::vector<StatusOr<int>>> picked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&picked, t] {
      for (int i = 0; i < kPicks; ++i) picked[t].push_back(PickFreePort("127.0.0.1"));
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::vector<StatusOr<int>>& picks : picked) {
    ASSERT_EQ(picks.size(), static_cast<size_t>(kPicks));
    for (const StatusOr<int>& port : picks) {
      ASSERT_TRUE(port.ok()) << port.status();
      EXPECT_GE(*port, 1024);
      EXPECT_LT(*port, 65536);
    }
  }
}

TEST(FreePortTest, ThreadsDoNotAllDrawTheSamePorts) {
  // Each thread's generator is seeded on its own: two threads drawing the same sequence of 10
  // ports would collide on every pick.
  std::vector<int> first, second;
  std::thread a([&first] {
    for (int i = 0; i < 10; ++i) first.push_back(PickFreePort("127.0.0.1").value_or(-1));
  });
  a.join();
  std::thread b([&second] {
    for (int i = 0; i < 10; ++i) second.push_back(PickFreePort("127.0.0.1").value_or(-1));
  });
  b.join();
  EXPECT_NE(first, second);
}

}  // namespace
}  // namespace shoal::orchestrator
