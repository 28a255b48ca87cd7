// Autoscaling of a stateless Deployment on the requests its router has in flight, as Ray
// Serve's default policy does: AutoscalingPolicy decides (pure, on given times), Autoscaler
// samples the router on its own thread and applies decisions through Scale().
#ifndef SHOAL_ORCHESTRATOR_AUTOSCALER_H_
#define SHOAL_ORCHESTRATOR_AUTOSCALER_H_

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/config/autoscaling.h"
#include "src/metrics/metrics.h"

namespace shoal::orchestrator {

// Thread-compatible. Keeps the samples of the last look_back_period_s (at most kMaxSamples)
// and whether the wanted count has differed from the current one, since when, in which
// direction.
class AutoscalingPolicy {
 public:
  static constexpr size_t kMaxSamples = 10000;

  explicit AutoscalingPolicy(config::AutoscalingConfig config) : config_(config) {}

  // The requests in flight in each shard (summed over its replicas), sampled at `now`.
  void Record(absl::Time now, std::vector<int> ongoing_per_shard);

  struct Decision {
    int replicas = 0;    // per shard, within [min_replicas, max_replicas]
    double ongoing = 0;  // the busiest shard's in-flight requests, averaged over the window
  };
  // The replicas per shard wanted now, for `current` replicas per shard, without any delay:
  // per shard ceil(current * (1 + (ratio - 1) * factor)), ratio = ongoing / (target *
  // current), the largest over the shards, clamped to the bounds. nullopt before a sample.
  std::optional<Decision> Desired(int current) const;
  // The count to scale to at `now`: Desired() once it has been above `current` for
  // upscale_delay_s, or below it for downscale_delay_s, without a break; nullopt otherwise
  // (a wanted count equal to `current`, or one in the other direction, restarts the delay).
  std::optional<Decision> Decide(absl::Time now, int current);

 private:
  struct Sample {
    absl::Time at;
    std::vector<int> ongoing;
  };

  const config::AutoscalingConfig config_;
  std::deque<Sample> samples_;
  int pending_ = 0;  // +1: more wanted, -1: fewer, 0: neither
  absl::Time pending_since_;
};

// Thread-safe. Owns the "autoscaler" thread, started by the constructor, which every
// metrics_interval_s samples the Deployment, feeds AutoscalingPolicy and calls `scale` with
// each decision (one INFO log line and shoal_autoscaler_decisions_total each). Serves
// shoal_deployment_replicas, shoal_autoscaler_desired_replicas and
// shoal_autoscaler_ongoing_requests{deployment} while it lives. Stopped by RequestStop() (no
// further decision starts), joined by Join() or the destructor.
class Autoscaler {
 public:
  // What the autoscaler reads and changes of its Deployment; called on its thread (and
  // `replicas` once by the constructor).
  struct Target {
    std::string deployment;
    std::function<std::vector<int>()> ongoing_per_shard;
    std::function<int()> replicas;  // per shard, now
    std::function<Status(int)> scale;
  };
  Autoscaler(config::AutoscalingConfig config, Target target);
  ~Autoscaler();
  Autoscaler(const Autoscaler&) = delete;
  Autoscaler& operator=(const Autoscaler&) = delete;

  void RequestStop();
  // Waits for the thread to end (a Scale() under way finishes first). Idempotent.
  void Join();

 private:
  void Run();
  // One sample and, maybe, one decision applied.
  void Tick();
  std::vector<metrics::Sample> Samples() const;

  // Constant after construction.
  const config::AutoscalingConfig config_;
  const Target target_;
  metrics::Counter ups_;
  metrics::Counter downs_;
  // Owned by the autoscaler thread.
  AutoscalingPolicy policy_;
  // Written by the autoscaler thread, read by metrics scrapes.
  std::atomic<int> replicas_{0};
  std::atomic<int> desired_{0};
  std::atomic<double> ongoing_{0};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;  // serialises Join() callers
  metrics::SamplerRegistration sampler_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_AUTOSCALER_H_
