// Latency during a rolling update: 8 senders keep one request each in flight through a
// 3-replica Deployment (Sleep {"ms": 1}) for --seconds of steady state, then the Deployment is
// updated to a new `uses_with` (every replica replaced, one at a time) while they go on. Prints
// one JSON line: p50/p99 of the requests sent during the rollout and of those sent during the
// same length of time just before it, the rollout's duration, and the failed requests.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "shoal/deployment.h"
#include "shoal/doc.h"

namespace shoal::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string shoal_binary;
  double seconds = 5;
  int senders = 8;
  int replicas = 3;
  std::string label;
};

struct Sample {
  Clock::time_point sent;
  double us;
};

// Sends until `stop`, recording each answer's latency; counts failures.
class Senders {
 public:
  Senders(Deployment& dep, int count) : dep_(dep) {
    for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Send(); });
  }
  ~Senders() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int failed() const { return failed_; }
  std::vector<Sample> samples() {
    absl::MutexLock lock(&mu_);
    return samples_;
  }

 private:
  void Send() {
    // At most 10 minutes' worth at 1 ms each, so that memory stays bounded.
    for (int i = 0; i < 600000 && !stop_; ++i) {
      DocList docs;
      docs.Add().set_text("x");
      const Clock::time_point sent = Clock::now();
      StatusOr<DocList> answer = dep_.Post("/sleep", docs, {.stream = false});
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - sent).count();
      if (!answer.ok()) {
        if (failed_++ < 5) std::fprintf(stderr, "failed: %s\n", answer.status().ToString().c_str());
        continue;
      }
      absl::MutexLock lock(&mu_);
      samples_.push_back({sent, us});
    }
  }

  Deployment& dep_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  absl::Mutex mu_;
  std::vector<Sample> samples_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// {p50, p99} in µs of the samples sent in [from, to); {0, 0} when none.
std::pair<double, double> Percentiles(const std::vector<Sample>& samples, Clock::time_point from,
                                      Clock::time_point to, size_t* count) {
  std::vector<double> us;
  for (const Sample& s : samples) {
    if (s.sent >= from && s.sent < to) us.push_back(s.us);
  }
  *count = us.size();
  if (us.empty()) return {0, 0};
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, size_t(q * us.size()))]; };
  return {at(0.50), at(0.99)};
}

DeploymentOptions Spec(const Options& options, int version) {
  DeploymentOptions spec;
  spec.name = "rollout";
  spec.uses = "Sleep";
  spec.uses_with = "{\"ms\": 1, \"version\": " + std::to_string(version) + "}";
  spec.replicas = options.replicas;
  spec.shoal_binary = options.shoal_binary;
  spec.timeout_ready_ms = 60000;
  return spec;
}

int Run(const Options& options) {
  Deployment dep(Spec(options, 1));
  if (Status started = dep.Start(); !started.ok()) {
    std::fprintf(stderr, "start: %s\n", started.ToString().c_str());
    return 1;
  }
  Senders senders(dep, options.senders);
  std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
  const Clock::time_point rollout_start = Clock::now();
  const Status updated = dep.Update(Spec(options, 2));
  const Clock::time_point rollout_end = Clock::now();
  senders.Stop();
  const std::vector<Sample> samples = senders.samples();
  const auto rollout = rollout_end - rollout_start;
  size_t steady_n = 0;
  size_t rollout_n = 0;
  // The steady window: as long as the rollout, just before it (at most --seconds).
  const auto window = std::min<Clock::duration>(
      rollout,
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds)));
  auto [steady_p50, steady_p99] =
      Percentiles(samples, rollout_start - window, rollout_start, &steady_n);
  auto [rollout_p50, rollout_p99] = Percentiles(samples, rollout_start, rollout_end, &rollout_n);
  std::string error = updated.ok() ? "" : std::string(updated.message());
  std::replace(error.begin(), error.end(), '"', '\'');
  std::printf(
      "{\"label\": \"%s\", \"replicas\": %d, \"senders\": %d, \"rollout_s\": %.3f, "
      "\"steady_p50_us\": %.0f, \"steady_p99_us\": %.0f, \"steady_requests\": %zu, "
      "\"rollout_p50_us\": %.0f, \"rollout_p99_us\": %.0f, \"rollout_requests\": %zu, "
      "\"failed\": %d, \"error\": \"%s\"}\n",
      options.label.c_str(), options.replicas, options.senders,
      std::chrono::duration<double>(rollout).count(), steady_p50, steady_p99, steady_n, rollout_p50,
      rollout_p99, rollout_n, senders.failed(), error.c_str());
  dep.Stop();
  return updated.ok() ? 0 : 1;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  CLI::App app{
      "Rolls a 3-replica Sleep {\"ms\": 1} Deployment to a new uses_with under 8 senders and "
      "prints p50/p99 during the rollout vs steady state, and the rollout's duration (JSON).",
      "shoal_rollout_bench"};
  shoal::bench::Options options;
  app.add_option("--shoal", options.shoal_binary, "The shoal executable replicas run")->required();
  app.add_option("--seconds", options.seconds, "Steady state before the rollout")
      ->check(CLI::Range(0.5, 600.0));
  app.add_option("--senders", options.senders, "Senders, one request in flight each")
      ->check(CLI::Range(1, 256));
  app.add_option("--replicas", options.replicas)->check(CLI::Range(1, 16));
  app.add_option("--label", options.label, "Free text copied into the JSON line");
  CLI11_PARSE(app, argc, argv);
  return shoal::bench::Run(options);
}
