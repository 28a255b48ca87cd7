// A named thread that runs posted tasks one at a time, in order: the only way in is Post().
#ifndef SHOAL_COMMON_TASK_THREAD_H_
#define SHOAL_COMMON_TASK_THREAD_H_

#include <deque>
#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace shoal {

// Thread-safe. Owned by whoever constructs it; Stop() (or the destructor) runs the tasks already
// posted, then joins. Tasks posted after Stop() are dropped and Post returns false. Tasks never
// overlap, including those RunOrPost runs on the caller's thread.
class TaskThread {
 public:
  explicit TaskThread(std::string name);
  ~TaskThread();
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  bool Post(absl::AnyInvocable<void()> task);
  // Runs `task` at once on the calling thread when nothing is queued or running (the thread
  // waits meanwhile), else posts it. Saves the two thread switches of a post to an idle thread.
  bool RunOrPost(absl::AnyInvocable<void()> task);
  // Number of tasks posted and not yet finished.
  size_t pending() const;
  void Stop();

 private:
  void Run();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool running_elsewhere_ ABSL_GUARDED_BY(mu_) = false;  // RunOrPost runs a task
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members above exist
};

}  // namespace shoal

#endif  // SHOAL_COMMON_TASK_THREAD_H_
