// The autoscaling policy and the thread that applies it (see autoscaler.h).
#include "src/orchestrator/autoscaler.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/time/clock.h"
#include "src/common/log.h"

namespace shoal::orchestrator {

void AutoscalingPolicy::Record(absl::Time now, std::vector<int> ongoing_per_shard) {
  samples_.push_back({now, std::move(ongoing_per_shard)});
  const absl::Time oldest = now - absl::Seconds(config_.look_back_period_s);
  while (samples_.size() > 1 && (samples_.front().at <= oldest || samples_.size() > kMaxSamples)) {
    samples_.pop_front();
  }
}

std::optional<AutoscalingPolicy::Decision> AutoscalingPolicy::Desired(int current) const {
  if (samples_.empty()) return std::nullopt;
  current = std::max(current, 1);
  std::vector<double> sums;
  for (const Sample& sample : samples_) {
    sums.resize(std::max(sums.size(), sample.ongoing.size()), 0.0);
    for (size_t s = 0; s < sample.ongoing.size(); ++s) sums[s] += sample.ongoing[s];
  }
  Decision decision{.replicas = config_.min_replicas};
  for (double sum : sums) {
    const double ongoing = sum / static_cast<double>(samples_.size());
    const double ratio = ongoing / (config_.target_ongoing_requests * current);
    const double factor = ratio >= 1 ? config_.upscaling_factor : config_.downscaling_factor;
    // A little under the next whole number stays below it (0.1 + 0.2 in floating point).
    const double wanted = std::ceil(current * (1 + (ratio - 1) * factor) - 1e-9);
    const double clamped = std::clamp(wanted, static_cast<double>(config_.min_replicas),
                                      static_cast<double>(config_.max_replicas));
    decision.replicas = std::max(decision.replicas, static_cast<int>(clamped));
    decision.ongoing = std::max(decision.ongoing, ongoing);
  }
  return decision;
}

std::optional<AutoscalingPolicy::Decision> AutoscalingPolicy::Decide(absl::Time now, int current) {
  std::optional<Decision> desired = Desired(current);
  if (!desired) return std::nullopt;
  const int direction = desired->replicas > current ? 1 : desired->replicas < current ? -1 : 0;
  if (direction != pending_) {
    pending_ = direction;
    pending_since_ = now;
  }
  if (direction == 0) return std::nullopt;
  const double delay = direction > 0 ? config_.upscale_delay_s : config_.downscale_delay_s;
  if (now - pending_since_ < absl::Seconds(delay)) return std::nullopt;
  pending_ = 0;
  return desired;
}

Autoscaler::Autoscaler(config::AutoscalingConfig config, Target target)
    : config_(config),
      target_(std::move(target)),
      ups_(metrics::AutoscalerDecisions(target_.deployment, "up")),
      downs_(metrics::AutoscalerDecisions(target_.deployment, "down")),
      policy_(config) {
  replicas_ = target_.replicas();
  sampler_ =
      metrics::AddSampler({{"deployment", target_.deployment}}, [this] { return Samples(); });
  thread_ = std::thread([this] { Run(); });
}

Autoscaler::~Autoscaler() {
  RequestStop();
  Join();
}

void Autoscaler::RequestStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void Autoscaler::Join() {
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

void Autoscaler::Run() {
  pthread_setname_np(pthread_self(), "shoal-autoscale");
  const absl::Duration interval = absl::Seconds(config_.metrics_interval_s);
  absl::Time next = absl::Now() + interval;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithDeadline(absl::Condition(&stopping_), next)) return;
    }
    // Never more often than the interval, and no burst of catch-up ticks after a long Scale().
    next = std::max(next + interval, absl::Now());
    Tick();
  }
}

void Autoscaler::Tick() {
  const absl::Time now = absl::Now();
  policy_.Record(now, target_.ongoing_per_shard());
  const int current = target_.replicas();
  replicas_ = current;
  if (std::optional<AutoscalingPolicy::Decision> desired = policy_.Desired(current)) {
    desired_ = desired->replicas;
    ongoing_ = desired->ongoing;
  }
  std::optional<AutoscalingPolicy::Decision> decision = policy_.Decide(now, current);
  if (!decision) return;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
  }
  const bool up = decision->replicas > current;
  SHOAL_LOG_INFO(
      "Deployment '%s': autoscaling %s from %d to %d replica(s) per shard: %.2f request(s) in "
      "flight (busiest shard, %gs average), target %g per replica",
      target_.deployment, up ? "up" : "down", current, decision->replicas, decision->ongoing,
      config_.look_back_period_s, config_.target_ongoing_requests);
  (up ? ups_ : downs_).Increment();
  Status scaled = target_.scale(decision->replicas);
  if (!scaled.ok()) {
    SHOAL_LOG_WARNING("Deployment '%s': autoscaling to %d replica(s) failed: %s",
                      target_.deployment, decision->replicas, scaled.ToString());
  }
  replicas_ = target_.replicas();
}

std::vector<metrics::Sample> Autoscaler::Samples() const {
  return {
      {.name = "shoal_deployment_replicas",
       .help = "Replicas per shard of an autoscaled Deployment",
       .value = static_cast<double>(replicas_.load())},
      {.name = "shoal_autoscaler_desired_replicas",
       .help = "Replicas per shard the autoscaler wants now, before its delays",
       .value = static_cast<double>(desired_.load())},
      {.name = "shoal_autoscaler_ongoing_requests",
       .help = "Requests in flight in the busiest shard, averaged over the look-back period",
       .value = ongoing_.load()},
  };
}

}  // namespace shoal::orchestrator
