// Helpers of the RaftNode tests: a recording state machine and bounded waits.
#ifndef SHOAL_TESTS_UNIT_CONSENSUS_RAFT_TEST_UTIL_H_
#define SHOAL_TESTS_UNIT_CONSENSUS_RAFT_TEST_UTIL_H_

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "shoal/status.h"
#include "src/common/strings.h"
#include "tests/testing/wait.h"

namespace shoal::consensus {

inline constexpr absl::Duration kWait = absl::Seconds(30);
inline constexpr absl::Duration kApplyTimeout = absl::Seconds(10);

// Polls `done` every 20 ms until it holds or kWait passes.
template <typename Predicate>
bool WaitFor(Predicate done) {
  return testing::WaitFor(std::move(done), kWait, absl::Milliseconds(20));
}

// A state machine that records every applied entry; snapshots are one "index data" line each.
class Recorder {
 public:
  std::string Apply(uint64_t index, std::string_view data) {
    absl::MutexLock lock(&mu_);
    entries_.emplace_back(index, std::string(data));
    return absl::StrCat("ok:", AsAbsl(data));
  }
  Status Snapshot(const std::string& path) {
    absl::MutexLock lock(&mu_);
    std::ofstream out(path);
    for (const auto& [index, data] : entries_) out << index << ' ' << data << '\n';
    ++snapshots_;
    return out.good() ? absl::OkStatus() : absl::InternalError("cannot write " + path);
  }
  Status Restore(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::pair<uint64_t, std::string>> entries;
    uint64_t index;
    std::string data;
    while (in >> index >> data) entries.emplace_back(index, data);
    absl::MutexLock lock(&mu_);
    entries_ = std::move(entries);
    ++restores_;
    return absl::OkStatus();
  }
  std::vector<std::pair<uint64_t, std::string>> entries() const {
    absl::MutexLock lock(&mu_);
    return entries_;
  }
  std::vector<std::string> data() const {
    std::vector<std::string> out;
    for (const auto& entry : entries()) out.push_back(entry.second);
    return out;
  }
  int snapshots() const {
    absl::MutexLock lock(&mu_);
    return snapshots_;
  }
  int restores() const {
    absl::MutexLock lock(&mu_);
    return restores_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<uint64_t, std::string>> entries_ ABSL_GUARDED_BY(mu_);
  int snapshots_ ABSL_GUARDED_BY(mu_) = 0;
  int restores_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoal::consensus

#endif  // SHOAL_TESTS_UNIT_CONSENSUS_RAFT_TEST_UTIL_H_
