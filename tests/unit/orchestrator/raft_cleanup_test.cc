#include "src/orchestrator/raft_cleanup.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::orchestrator {
namespace {

using ::testing::HasSubstr;

TEST(RaftCleanupTest, AFailedRemovalIsRetriedUntilItSucceeds) {
  int calls = 0;
  Status removed = RemoveRaftMemberWithRetries(
      [&](absl::Duration) {
        return ++calls < 3 ? absl::UnavailableError("no leader") : absl::OkStatus();
      },
      "idx-0-rep-1.g1", {"127.0.0.1:5001"}, absl::Seconds(1), absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(removed.ok()) << removed;
  EXPECT_EQ(calls, 3);
}

TEST(RaftCleanupTest, ARemovalThatKeepsFailingNamesTheMemberAndTheCommand) {
  int calls = 0;
  Status removed = RemoveRaftMemberWithRetries(
      [&](absl::Duration) {
        ++calls;
        return absl::DeadlineExceededError("no leader took the change");
      },
      "idx-0-rep-1.g1", {"127.0.0.1:5001", "127.0.0.1:5002"}, absl::Seconds(1),
      absl::Now() + absl::Seconds(30), /*max_tries=*/3);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(removed.code(), absl::StatusCode::kDeadlineExceeded);
  const std::string message(removed.message());
  EXPECT_THAT(message, HasSubstr("'idx-0-rep-1.g1'"));
  EXPECT_THAT(message, HasSubstr("no leader took the change"));
  EXPECT_THAT(message, HasSubstr("shoal raft remove --id idx-0-rep-1.g1 --via "
                                 "127.0.0.1:5001,127.0.0.1:5002"));
}

TEST(RaftCleanupTest, NoTryStartsAfterTheDeadlineButTheFirstAlwaysRuns) {
  int calls = 0;
  absl::Duration given;
  Status removed = RemoveRaftMemberWithRetries(
      [&](absl::Duration each) {
        ++calls;
        given = each;
        return absl::UnavailableError("down");
      },
      "m", {"127.0.0.1:5001"}, absl::Seconds(10), absl::Now() - absl::Seconds(1));
  EXPECT_FALSE(removed.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_LE(given, absl::Seconds(10));
}

}  // namespace
}  // namespace shoal::orchestrator
