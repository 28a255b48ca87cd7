// `shoal_raft_bare`: the consensus library's own rate, without Shoal's replica around it. Starts a
// 3-member Raft group in this process (consensus::RaftNode, the hashicorp/raft archive the
// stateful replicas use, on 127.0.0.1, BoltDB logs in a temporary folder), waits for a leader and
// applies entries of --entry-bytes bytes to it from --concurrency threads, each waiting for its
// entry to commit before the next, for --seconds after --warmup seconds. The state machine keeps
// nothing. Prints one JSON line: entries/s (as "rps", like shoal_loadgen), latency percentiles
// and this process's CPU seconds. Removes its folder; every wait is bounded.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/json_util.h"
#include "src/consensus/raft_node.h"

namespace shoal::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t entry_bytes = 700;
  int concurrency = 1;
  double seconds = 5;
  double warmup = 1;
  std::string raft_configuration =
      R"({"HeartbeatTimeout": 300, "ElectionTimeout": 300, "LeaderLeaseTimeout": 200,
          "CommitTimeout": 5, "LogLevel": "WARN"})";
  std::string dir;
  std::string label;
};

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(q * values.size()));
  std::nth_element(values.begin(), values.begin() + at, values.end());
  return values[at];
}

// The three members, bootstrapped as one group.
StatusOr<std::vector<std::unique_ptr<consensus::RaftNode>>> StartGroup(
    const Options& options, const std::filesystem::path& root) {
  google::protobuf::Struct config;
  if (!google::protobuf::util::JsonStringToMessage(options.raft_configuration, &config).ok()) {
    return absl::InvalidArgumentError("--raft-configuration is not a JSON object");
  }
  std::vector<std::unique_ptr<consensus::RaftNode>> nodes;
  std::map<std::string, std::string> peers;
  for (int i = 0; i < 3; ++i) {
    consensus::RaftNode::Options raft{
        .id = absl::StrCat("bare-", i),
        .bind_address = "127.0.0.1:0",
        .data_dir = (root / absl::StrCat("bare-", i)).string(),
        .raft_configuration = config,
        .apply = [](uint64_t, std::string_view) { return std::string(); },
        .snapshot = [](const std::string&) { return absl::OkStatus(); },
        .restore = [](const std::string&) { return absl::OkStatus(); },
    };
    SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<consensus::RaftNode> node,
                           consensus::RaftNode::Start(std::move(raft)));
    peers[node->id()] = node->address();
    nodes.push_back(std::move(node));
  }
  for (auto& node : nodes) SHOAL_RETURN_IF_ERROR(node->Bootstrap(peers));
  return nodes;
}

consensus::RaftNode* WaitLeader(const std::vector<std::unique_ptr<consensus::RaftNode>>& nodes) {
  for (int tries = 0; tries < 1500; ++tries) {
    for (const auto& node : nodes) {
      if (node->IsLeader()) return node.get();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

int Run(const Options& options) {
  std::filesystem::path root = options.dir.empty() ? std::filesystem::temp_directory_path()
                                                   : std::filesystem::path(options.dir);
  root /= absl::StrCat("shoal-raft-bare-", getpid());
  std::filesystem::create_directories(root);
  int rc = 0;
  {
    StatusOr<std::vector<std::unique_ptr<consensus::RaftNode>>> nodes = StartGroup(options, root);
    consensus::RaftNode* leader = nodes.ok() ? WaitLeader(*nodes) : nullptr;
    if (leader == nullptr) {
      std::fprintf(stderr, "shoal_raft_bare: no leader: %s\n",
                   nodes.ok() ? "none elected within 30 s" : nodes.status().ToString().c_str());
      rc = 2;
    } else {
      const std::string entry(options.entry_bytes, 'x');
      const Clock::time_point start = Clock::now();
      const Clock::time_point measured_from =
          start + std::chrono::microseconds(static_cast<int64_t>(options.warmup * 1e6));
      const Clock::time_point end =
          measured_from + std::chrono::microseconds(static_cast<int64_t>(options.seconds * 1e6));
      absl::Mutex mu;
      std::vector<double> latencies;
      std::atomic<int64_t> errors{0};
      double cpu_from = 0;
      std::atomic<bool> cpu_taken{false};
      std::vector<std::thread> threads;
      for (int t = 0; t < options.concurrency; ++t) {
        threads.emplace_back([&] {
          std::vector<double> mine;
          for (Clock::time_point now = Clock::now(); now < end; now = Clock::now()) {
            if (now >= measured_from && !cpu_taken.exchange(true)) cpu_from = CpuSeconds();
            StatusOr<consensus::ApplyResult> applied = leader->Apply(entry, absl::Seconds(10));
            const Clock::time_point done = Clock::now();
            if (!applied.ok()) ++errors;
            if (applied.ok() && now >= measured_from && done <= end) {
              mine.push_back(std::chrono::duration<double, std::micro>(done - now).count());
            }
          }
          absl::MutexLock lock(&mu);
          latencies.insert(latencies.end(), mine.begin(), mine.end());
        });
      }
      for (std::thread& thread : threads) thread.join();
      const double cpu = CpuSeconds() - cpu_from;
      absl::MutexLock lock(&mu);
      const size_t count = latencies.size();
      std::printf(
          "{\"label\":\"%s\",\"concurrency\":%d,\"entry_bytes\":%lld,\"seconds\":%.3f,"
          "\"rps\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"errors\":%lld,"
          "\"responses_total\":%zu,\"cpu_s\":%.2f}\n",
          options.label.c_str(), options.concurrency, static_cast<long long>(options.entry_bytes),
          options.seconds, count / options.seconds, Percentile(latencies, 0.5),
          Percentile(latencies, 0.9), Percentile(latencies, 0.99),
          static_cast<long long>(errors.load()), count, cpu);
      rc = errors > 0 ? 1 : 0;
    }
    if (nodes.ok()) {
      for (auto& node : *nodes) node->Shutdown().IgnoreError();
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
  return rc;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  shoal::bench::Options options;
  CLI::App app{
      "Applies entries to a bare 3-member Raft group in this process; prints entries/s as JSON"};
  app.add_option("--entry-bytes", options.entry_bytes, "Bytes per entry")
      ->check(CLI::Range(int64_t{1}, int64_t{64} << 20));
  app.add_option("--concurrency", options.concurrency, "Entries in flight")
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", options.seconds, "Measured seconds")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", options.warmup, "Seconds before measuring")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--raft-configuration", options.raft_configuration,
                 "JSON object, as a Deployment's raft_configuration");
  app.add_option("--dir", options.dir, "Where the temporary Raft folders go (default: TMPDIR)");
  app.add_option("--label", options.label, "Free text copied into the JSON line");
  CLI11_PARSE(app, argc, argv);
  return shoal::bench::Run(options);
}
