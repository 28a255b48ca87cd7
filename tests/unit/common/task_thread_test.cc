// TaskThread: tasks run one at a time, in order; RunOrPost runs on the caller's thread only when
// the thread is idle.
#include "src/common/task_thread.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

TEST(TaskThreadTest, RunOrPostRunsOnTheCallersThreadWhenIdle) {
  TaskThread thread("test");
  std::thread::id ran;
  ASSERT_TRUE(thread.RunOrPost([&] { ran = std::this_thread::get_id(); }));
  EXPECT_EQ(ran, std::this_thread::get_id());
}

TEST(TaskThreadTest, RunOrPostQueuesBehindARunningTask) {
  TaskThread thread("test");
  absl::Notification started;
  absl::Notification release;
  ASSERT_TRUE(thread.Post([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  absl::Notification ran;
  std::thread::id ran_on;
  ASSERT_TRUE(thread.RunOrPost([&] {
    ran_on = std::this_thread::get_id();
    ran.Notify();
  }));
  EXPECT_FALSE(ran.HasBeenNotified());  // it waits for the running task
  EXPECT_EQ(thread.pending(), 2u);
  release.Notify();
  ran.WaitForNotification();
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(TaskThreadTest, APostWaitsForATaskRunningOnAnotherThread) {
  TaskThread thread("test");
  absl::Notification inside;
  absl::Notification release;
  std::thread caller([&] {
    thread.RunOrPost([&] {
      inside.Notify();
      release.WaitForNotification();
    });
  });
  inside.WaitForNotification();
  absl::Notification posted_ran;
  ASSERT_TRUE(thread.Post([&] { posted_ran.Notify(); }));
  // The thread must not start the posted task while the caller's runs.
  EXPECT_FALSE(posted_ran.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  release.Notify();
  posted_ran.WaitForNotification();
  caller.join();
}

TEST(TaskThreadTest, TasksNeverOverlapWhicheverThreadRunsThem) {
  TaskThread thread("test");
  std::atomic<bool> inside{false};
  std::atomic<int> overlaps{0};
  int count = 0;  // only touched by tasks: a race here is an overlap
  auto task = [&] {
    if (inside.exchange(true)) overlaps.fetch_add(1);
    ++count;
    inside.store(false);
  };
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int i = 0; i < 500; ++i) {
        if ((i + c) % 2 == 0) {
          thread.RunOrPost(task);
        } else {
          thread.Post(task);
        }
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  thread.Stop();  // runs what is queued
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(count, 2000);
}

TEST(TaskThreadTest, RunOrPostRefusesOnceStopping) {
  TaskThread thread("test");
  thread.Stop();
  bool ran = false;
  EXPECT_FALSE(thread.RunOrPost([&] { ran = true; }));
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace shoal
