// TaskThread: a queue drained by one named thread.
#include "src/common/task_thread.h"

#include <pthread.h>

#include <utility>

namespace shoal {

TaskThread::TaskThread(std::string name) : name_(std::move(name)), thread_([this] { Run(); }) {}

TaskThread::~TaskThread() { Stop(); }

bool TaskThread::Post(absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  tasks_.push_back(std::move(task));
  return true;
}

bool TaskThread::RunOrPost(absl::AnyInvocable<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    if (!tasks_.empty() || running_ > 0) {
      tasks_.push_back(std::move(task));
      return true;
    }
    ++running_;
    running_elsewhere_ = true;
  }
  task();
  absl::MutexLock lock(&mu_);
  --running_;
  running_elsewhere_ = false;
  return true;
}

size_t TaskThread::pending() const {
  absl::MutexLock lock(&mu_);
  return tasks_.size() + running_;
}

void TaskThread::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool TaskThread::HasWorkOrStopping() const {
  return !running_elsewhere_ && (!tasks_.empty() || stopping_);
}

void TaskThread::Run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  while (true) {
    absl::AnyInvocable<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &TaskThread::HasWorkOrStopping));
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++running_;
    }
    task();
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace shoal
