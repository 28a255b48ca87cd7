// CommitQueue and LeaderChecks: a queue each, drained by their own threads.
#include "src/replica/commit_queue.h"

#include <utility>

namespace shoal::replica {
namespace {

Status ShuttingDown() { return absl::UnavailableError("the replica is shutting down"); }

}  // namespace

CommitQueue::CommitQueue(Options options, CommitFn commit)
    : options_(options), commit_(std::move(commit)) {
  if (options_.committers == 0) options_.committers = 1;
  busy_.assign(options_.committers, false);
  for (size_t i = 0; i < options_.committers; ++i) {
    threads_.push_back(std::make_unique<TaskThread>("raft-commit"));
  }
}

void CommitQueue::Add(std::string request, Done done) {
  size_t idle = options_.committers;
  absl::ReleasableMutexLock lock(&mu_);
  if (closed_) {
    lock.Release();
    done(ShuttingDown());
    return;
  }
  queue_.push_back(Pending{std::move(request), std::move(done)});
  for (size_t i = 0; i < busy_.size(); ++i) {
    if (!busy_[i]) {
      idle = i;
      busy_[i] = true;
      break;
    }
  }
  lock.Release();
  // Else a busy committer takes the write with its next batch.
  if (idle < options_.committers) {
    threads_[idle]->Post([this, idle] { Drain(idle); });
  }
}

bool CommitQueue::TakeBatch(Batch* batch) {
  size_t bytes = 0;
  while (!queue_.empty() && batch->requests.size() < options_.max_requests &&
         (batch->requests.empty() || bytes + queue_.front().request.size() <= options_.max_bytes)) {
    bytes += queue_.front().request.size();
    batch->requests.push_back(std::move(queue_.front().request));
    batch->dones.push_back(std::move(queue_.front().done));
    queue_.pop_front();
  }
  return !batch->requests.empty();
}

void CommitQueue::Drain(size_t committer) {
  for (;;) {
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      if (!TakeBatch(&batch)) {
        busy_[committer] = false;
        return;
      }
    }
    batches_.fetch_add(1, std::memory_order_relaxed);
    commit_(std::move(batch));
  }
}

void CommitQueue::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  for (auto& thread : threads_) thread->Stop();
  std::deque<Pending> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (Pending& pending : left) pending.done(ShuttingDown());
}

LeaderChecks::LeaderChecks(std::function<Status()> check) : check_(std::move(check)) {}

void LeaderChecks::Confirm(absl::AnyInvocable<void(Status)> done) {
  absl::ReleasableMutexLock lock(&mu_);
  if (closed_) {
    lock.Release();
    done(ShuttingDown());
    return;
  }
  waiting_.push_back(std::move(done));
  if (running_) return;  // the running round takes it next
  running_ = true;
  lock.Release();
  thread_.Post([this] { Run(); });
}

void LeaderChecks::Run() {
  for (;;) {
    std::vector<absl::AnyInvocable<void(Status)>> round;
    {
      absl::MutexLock lock(&mu_);
      round.swap(waiting_);
      if (round.empty()) {
        running_ = false;
        return;
      }
    }
    // Every read in `round` arrived before this check started.
    const Status confirmed = check_();
    rounds_.fetch_add(1, std::memory_order_relaxed);
    for (auto& done : round) done(confirmed);
  }
}

void LeaderChecks::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  thread_.Stop();
  std::vector<absl::AnyInvocable<void(Status)>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(waiting_);
  }
  for (auto& done : left) done(ShuttingDown());
}

}  // namespace shoal::replica
