// Shoal's Prometheus metrics: one process-wide registry and typed handles bound to their labels
// once (per endpoint, per replica), so that recording on the request path is one atomic update.
// Names and labels are listed in docs/deployments.md ("Metrics"); exposer.h serves them.
#ifndef SHOAL_METRICS_METRICS_H_
#define SHOAL_METRICS_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Collectable;
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace shoal::metrics {

// Handles are cheap to copy and valid for the life of the process (metrics are never removed
// from the registry). Thread-safe. A default-constructed handle records nothing.
class Counter {
 public:
  Counter() = default;
  explicit Counter(prometheus::Counter* metric) : metric_(metric) {}
  void Increment();
  double Value() const;

 private:
  prometheus::Counter* metric_ = nullptr;
};

class Gauge {
 public:
  Gauge() = default;
  explicit Gauge(prometheus::Gauge* metric) : metric_(metric) {}
  void Increment();
  void Decrement();
  double Value() const;

 private:
  prometheus::Gauge* metric_ = nullptr;
};

class Histogram {
 public:
  Histogram() = default;
  explicit Histogram(prometheus::Histogram* metric) : metric_(metric) {}
  void Observe(double value);

 private:
  prometheus::Histogram* metric_ = nullptr;
};

// The latency buckets (seconds), 50 us .. 10 s.
inline constexpr double kLatencyBuckets[] = {5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                             5e-3, 0.01, 0.025,  0.05, 0.1,  0.25,
                                             0.5,  1.0,  2.5,    5.0,  10.0};

// The Deployment a replica name (`name/rep-i`, `name/shard-s/rep-i`) belongs to: up to '/'.
std::string_view DeploymentOf(std::string_view replica_name);

// Replica side, per endpoint of one replica: labels deployment, replica, endpoint.
struct EndpointMetrics {
  Counter requests;   // shoal_replica_requests_total
  Counter failures;   // shoal_replica_failures_total (the Executor returned an error)
  Histogram latency;  // shoal_replica_request_duration_seconds (arrival to answer)
};
EndpointMetrics ForReplicaEndpoint(std::string_view deployment, std::string_view replica,
                                   std::string_view endpoint);
// Dynamically batched endpoints, same labels as EndpointMetrics.
inline constexpr double kBatchSizeBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
struct BatchingMetrics {
  Histogram batch_size;      // shoal_replica_batch_size: documents per Executor call
  Histogram queue_time;      // shoal_replica_batch_queue_seconds: per request, queued to called
  Histogram execution_time;  // shoal_replica_batch_execution_seconds: per Executor call
};
BatchingMetrics ForBatchingEndpoint(std::string_view deployment, std::string_view replica,
                                    std::string_view endpoint);
// shoal_replica_in_flight{deployment, replica}: requests received and not yet answered.
Gauge ReplicaInFlight(std::string_view deployment, std::string_view replica);
// shoal_replica_dropped_total{deployment, replica}: requests dropped before the Executor ran them
// (their deadline passed, or their client cancelled, while they waited in the queue).
Counter ReplicaDropped(std::string_view deployment, std::string_view replica);

// Router side, per replica address of one Deployment: labels deployment, replica (host:port).
struct RouteMetrics {
  Counter requests;   // shoal_router_requests_total: attempts sent to the replica
  Counter failures;   // shoal_router_failures_total: attempts that ended in a gRPC error
  Gauge in_flight;    // shoal_router_in_flight
  Counter retries;    // shoal_router_retries_total: attempts after an earlier one failed
  Counter ejections;  // shoal_router_ejections_total
};
RouteMetrics ForRoute(std::string_view deployment, std::string_view replica);

// Orchestrator: shoal_replica_restarts_total{deployment, replica} (replica: its name).
Counter ReplicaRestarts(std::string_view deployment, std::string_view replica);
// shoal_autoscaler_decisions_total{deployment, direction}: scalings the autoscaler applied
// (direction "up" or "down").
Counter AutoscalerDecisions(std::string_view deployment, std::string_view direction);
// shoal_deployment_rollouts_total{deployment, result}: rolling updates that ended, by result
// ("done", "rolled_back" or "failed").
Counter DeploymentRollouts(std::string_view deployment, std::string_view result);
// shoal_deployment_rollout_in_progress{deployment}: 1 while a rolling update runs.
Gauge DeploymentRolloutInProgress(std::string_view deployment);

// Gauges read when the metrics are scraped, for state kept elsewhere (a Raft member's term and
// indexes). A sampler returns the current value of each of its series; it runs on the scraping
// thread and must be quick and thread-safe.
struct Sample {
  std::string name;  // e.g. shoal_raft_term
  std::string help;
  std::map<std::string, std::string> labels;  // added to the sampler's own labels
  double value = 0;
};
using Sampler = std::function<std::vector<Sample>()>;

// Keeps a sampler registered until destroyed; once the destructor returns it is not running and
// never runs again. Not copyable.
class SamplerRegistration {
 public:
  SamplerRegistration() = default;
  SamplerRegistration(SamplerRegistration&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  SamplerRegistration& operator=(SamplerRegistration&& other) noexcept;
  ~SamplerRegistration();

 private:
  friend SamplerRegistration AddSampler(std::map<std::string, std::string>, Sampler);
  explicit SamplerRegistration(uint64_t id) : id_(id) {}
  uint64_t id_ = 0;
};
[[nodiscard]] SamplerRegistration AddSampler(std::map<std::string, std::string> labels,
                                             Sampler sampler);

// The process-wide registry every handle above lives in. Never destroyed.
const std::shared_ptr<prometheus::Registry>& Registry();
// The samplers' gauges, as a collectable the exposer serves next to Registry(). Never destroyed.
const std::shared_ptr<prometheus::Collectable>& SampledGauges();
// Everything in the registry and the samplers in the Prometheus text format, as /metrics serves it
// (a family is listed once it has a series).
std::string RenderText();

}  // namespace shoal::metrics

#endif  // SHOAL_METRICS_METRICS_H_
