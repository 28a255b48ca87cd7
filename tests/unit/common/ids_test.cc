// Tests of RandomHexId: the shape of request and document ids, and that they do not repeat.
#include "src/common/ids.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shoal {
namespace {

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(RandomHexIdTest, Is32LowerCaseHexDigits) {
  for (int i = 0; i < 100; ++i) {
    std::string id = RandomHexId();
    EXPECT_EQ(id.size(), 32u) << id;
    EXPECT_TRUE(IsLowerHex(id)) << id;
  }
}

TEST(RandomHexIdTest, DoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(RandomHexId());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(RandomHexIdTest, UsesEveryDigit) {
  std::set<char> digits;
  for (int i = 0; i < 100; ++i) {
    for (char c : RandomHexId()) digits.insert(c);
  }
  EXPECT_EQ(digits.size(), 16u);
}

TEST(RandomHexIdTest, ThreadsDrawDifferentIds) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(RandomHexId());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& list : ids) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(DerivedHexIdTest, DependsOnlyOnSeedAndPath) {
  // Fixed: replicas of different builds and machines must agree on it.
  EXPECT_EQ(DerivedHexId("request-1", "0"), "c0a9f2c8f5e0be01ff1f9d176310b69b");
  EXPECT_EQ(DerivedHexId("request-1", "0"), DerivedHexId("request-1", "0"));
  EXPECT_TRUE(IsLowerHex(DerivedHexId("", "")));
  std::set<std::string> ids = {DerivedHexId("request-1", "1"), DerivedHexId("request-2", "0"),
                               DerivedHexId("ab", "c"), DerivedHexId("a", "bc"),
                               DerivedHexId("request-1", "0")};
  EXPECT_EQ(ids.size(), 5u);
}

}  // namespace
}  // namespace shoal
