// Tests of the batching in front of the Raft log, with a fake commit and a fake leadership check
// that the test holds: writes that arrive during a commit go together into the next one, each
// answered with its own answer; reads that arrive during a check share the next check.
#include "src/replica/commit_queue.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace shoal::replica {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

TEST(CommitQueueTest, WritesArrivingDuringACommitGoIntoTheNextOneEachWithItsAnswer) {
  absl::Notification first_committing, release;
  absl::Mutex mu;
  std::vector<size_t> batch_sizes;
  CommitQueue queue({.committers = 1}, [&](CommitQueue::Batch batch) {
    {
      absl::MutexLock lock(&mu);
      batch_sizes.push_back(batch.requests.size());
    }
    if (!first_committing.HasBeenNotified()) {
      first_committing.Notify();
      release.WaitForNotification();
    }
    for (size_t i = 0; i < batch.requests.size(); ++i) {
      batch.dones[i](WriteAnswer{.bytes = absl::StrCat("answer to ", batch.requests[i])});
    }
  });
  constexpr int kWrites = 9;
  absl::Mutex answers_mu;
  std::vector<std::string> answers(kWrites);
  int answered = 0;
  auto add = [&](int i) {
    queue.Add(absl::StrCat("w", i), [&, i](StatusOr<WriteAnswer> answer) {
      absl::MutexLock lock(&answers_mu);
      answers[i] = answer.ok() ? answer->bytes : answer.status().ToString();
      ++answered;
    });
  };
  add(0);
  ASSERT_TRUE(first_committing.WaitForNotificationWithTimeout(kWait));
  for (int i = 1; i < kWrites; ++i) add(i);
  release.Notify();
  {
    absl::MutexLock lock(&answers_mu);
    ASSERT_TRUE(answers_mu.AwaitWithTimeout(absl::Condition(
                                                +[](int* n) { return *n == kWrites; }, &answered),
                                            kWait));
  }
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(answers[i], absl::StrCat("answer to w", i));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(batch_sizes, (std::vector<size_t>{1, kWrites - 1}));
  EXPECT_EQ(queue.batches(), 2u);
}

TEST(CommitQueueTest, ABatchStopsAtItsLimits) {
  absl::Notification first_committing, release;
  absl::Mutex mu;
  std::vector<size_t> batch_sizes;
  CommitQueue queue({.committers = 1, .max_requests = 3, .max_bytes = 1000},
                    [&](CommitQueue::Batch batch) {
                      {
                        absl::MutexLock lock(&mu);
                        batch_sizes.push_back(batch.requests.size());
                      }
                      if (!first_committing.HasBeenNotified()) {
                        first_committing.Notify();
                        release.WaitForNotification();
                      }
                      for (auto& done : batch.dones) done(WriteAnswer{});
                    });
  int answered = 0;
  absl::Mutex answers_mu;
  auto done = [&](StatusOr<WriteAnswer>) {
    absl::MutexLock lock(&answers_mu);
    ++answered;
  };
  queue.Add("first", done);
  ASSERT_TRUE(first_committing.WaitForNotificationWithTimeout(kWait));
  for (int i = 0; i < 4; ++i) queue.Add("small", done);  // 3, then 1
  queue.Add(std::string(2000, 'x'), done);               // alone: over max_bytes by itself
  release.Notify();
  {
    absl::MutexLock lock(&answers_mu);
    ASSERT_TRUE(answers_mu.AwaitWithTimeout(absl::Condition(
                                                +[](int* n) { return *n == 6; }, &answered),
                                            kWait));
  }
  absl::MutexLock lock(&mu);
  EXPECT_EQ(batch_sizes, (std::vector<size_t>{1, 3, 1, 1}));
}

TEST(CommitQueueTest, AfterCloseAWriteIsRefusedAtOnce) {
  CommitQueue queue({}, [](CommitQueue::Batch batch) {
    for (auto& done : batch.dones) done(WriteAnswer{});
  });
  queue.Close();
  Status status = absl::UnknownError("no answer");
  queue.Add("late", [&](StatusOr<WriteAnswer> answer) { status = answer.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(LeaderChecksTest, ReadsArrivingDuringACheckShareTheNextCheck) {
  absl::Notification first_checking, release;
  int checks = 0;
  LeaderChecks leader([&] {
    if (++checks == 1) {
      first_checking.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  });
  constexpr int kReads = 20;
  absl::Mutex mu;
  int confirmed = 0;
  auto done = [&](Status status) {
    EXPECT_TRUE(status.ok()) << status;
    absl::MutexLock lock(&mu);
    ++confirmed;
  };
  leader.Confirm(done);
  ASSERT_TRUE(first_checking.WaitForNotificationWithTimeout(kWait));
  // These arrived after the running check started: it cannot confirm them; the next one does.
  for (int i = 1; i < kReads; ++i) leader.Confirm(done);
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(confirmed, 0);
  }
  release.Notify();
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == kReads; }, &confirmed),
                                    kWait));
  }
  EXPECT_EQ(leader.rounds(), 2u);
}

TEST(LeaderChecksTest, AFailedCheckAnswersEveryReadItCovered) {
  LeaderChecks leader([] { return absl::UnavailableError("not the leader"); });
  absl::Notification answered;
  Status status;
  leader.Confirm([&](Status s) {
    status = s;
    answered.Notify();
  });
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  leader.Close();
  Status late;
  leader.Confirm([&](Status s) { late = s; });
  EXPECT_EQ(late.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shoal::replica
