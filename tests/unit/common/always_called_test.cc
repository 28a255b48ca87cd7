// Tests of AlwaysCalled: a callback runs once, whether its task runs or is dropped.
#include "src/common/always_called.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "src/common/task_thread.h"

namespace shoal {
namespace {

absl::Status Dropped() { return absl::UnavailableError("dropped"); }

TEST(AlwaysCalledTest, CalledOnceWithWhatItIsGiven) {
  int calls = 0;
  absl::Status seen;
  {
    AlwaysCalled<absl::Status> done(
        [&](absl::Status s) {
          ++calls;
          seen = s;
        },
        &Dropped);
    done(absl::OkStatus());
    done(absl::InternalError("again"));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(seen.ok());
}

TEST(AlwaysCalledTest, ATaskDroppedByAStoppedThreadStillCallsBack) {
  TaskThread thread("test");
  thread.Stop();
  int calls = 0;
  absl::Status seen;
  AlwaysCalled<absl::Status> done(
      [&](absl::Status s) {
        ++calls;
        seen = s;
      },
      &Dropped);
  EXPECT_FALSE(thread.Post([done = std::move(done)]() mutable { done(absl::OkStatus()); }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen.code(), absl::StatusCode::kUnavailable);
}

TEST(AlwaysCalledTest, MovedFromHolderDoesNotCall) {
  int calls = 0;
  {
    AlwaysCalled<absl::Status> first([&](absl::Status) { ++calls; }, &Dropped);
    AlwaysCalled<absl::Status> second(std::move(first));
    second(absl::OkStatus());
  }
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace shoal
