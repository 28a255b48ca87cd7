// The metric families, registered once in the process-wide registry, and the label-bound
// handles that the replica runtime, the router and the orchestrator keep.
#include "src/metrics/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <iterator>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace shoal::metrics {
namespace {

// Every family Shoal exports. Families are created once and, like the registry, never destroyed,
// so the pointers that handles keep stay valid until the process exits.
struct Families {
  explicit Families(prometheus::Registry& registry)
      : replica_requests(prometheus::BuildCounter()
                             .Name("shoal_replica_requests_total")
                             .Help("Requests a replica answered, per endpoint")
                             .Register(registry)),
        replica_failures(prometheus::BuildCounter()
                             .Name("shoal_replica_failures_total")
                             .Help("Requests whose Executor call returned an error, per endpoint")
                             .Register(registry)),
        replica_latency(prometheus::BuildHistogram()
                            .Name("shoal_replica_request_duration_seconds")
                            .Help("Time from a request's arrival at a replica to its answer")
                            .Register(registry)),
        replica_in_flight(prometheus::BuildGauge()
                              .Name("shoal_replica_in_flight")
                              .Help("Requests a replica received and has not answered yet")
                              .Register(registry)),
        replica_dropped(prometheus::BuildCounter()
                            .Name("shoal_replica_dropped_total")
                            .Help("Requests a replica dropped before its Executor ran them: "
                                  "their deadline passed or their client cancelled while queued")
                            .Register(registry)),
        batch_size(prometheus::BuildHistogram()
                       .Name("shoal_replica_batch_size")
                       .Help("Documents per Executor call of a dynamically batched endpoint")
                       .Register(registry)),
        batch_queue(prometheus::BuildHistogram()
                        .Name("shoal_replica_batch_queue_seconds")
                        .Help("Time a batched request waited in its queue before its Executor "
                              "call started")
                        .Register(registry)),
        batch_execution(prometheus::BuildHistogram()
                            .Name("shoal_replica_batch_execution_seconds")
                            .Help("Duration of one Executor call over a batch")
                            .Register(registry)),
        replica_restarts(prometheus::BuildCounter()
                             .Name("shoal_replica_restarts_total")
                             .Help("Times the orchestrator restarted a replica that exited")
                             .Register(registry)),
        autoscaler_decisions(prometheus::BuildCounter()
                                 .Name("shoal_autoscaler_decisions_total")
                                 .Help("Times the autoscaler scaled a Deployment, by direction")
                                 .Register(registry)),
        rollouts(prometheus::BuildCounter()
                     .Name("shoal_deployment_rollouts_total")
                     .Help("Rolling updates of a Deployment, by how they ended")
                     .Register(registry)),
        rollout_in_progress(prometheus::BuildGauge()
                                .Name("shoal_deployment_rollout_in_progress")
                                .Help("1 while a rolling update of the Deployment runs")
                                .Register(registry)),
        router_requests(prometheus::BuildCounter()
                            .Name("shoal_router_requests_total")
                            .Help("Attempts a Deployment's router sent to a replica")
                            .Register(registry)),
        router_failures(prometheus::BuildCounter()
                            .Name("shoal_router_failures_total")
                            .Help("Attempts to a replica that ended in a gRPC error")
                            .Register(registry)),
        router_in_flight(prometheus::BuildGauge()
                             .Name("shoal_router_in_flight")
                             .Help("Attempts sent to a replica and not answered yet")
                             .Register(registry)),
        router_retries(prometheus::BuildCounter()
                           .Name("shoal_router_retries_total")
                           .Help("Attempts sent to a replica after an earlier attempt failed")
                           .Register(registry)),
        router_ejections(prometheus::BuildCounter()
                             .Name("shoal_router_ejections_total")
                             .Help("Times a replica was taken out of the router's rotation")
                             .Register(registry)) {}

  prometheus::Family<prometheus::Counter>& replica_requests;
  prometheus::Family<prometheus::Counter>& replica_failures;
  prometheus::Family<prometheus::Histogram>& replica_latency;
  prometheus::Family<prometheus::Gauge>& replica_in_flight;
  prometheus::Family<prometheus::Counter>& replica_dropped;
  prometheus::Family<prometheus::Histogram>& batch_size;
  prometheus::Family<prometheus::Histogram>& batch_queue;
  prometheus::Family<prometheus::Histogram>& batch_execution;
  prometheus::Family<prometheus::Counter>& replica_restarts;
  prometheus::Family<prometheus::Counter>& autoscaler_decisions;
  prometheus::Family<prometheus::Counter>& rollouts;
  prometheus::Family<prometheus::Gauge>& rollout_in_progress;
  prometheus::Family<prometheus::Counter>& router_requests;
  prometheus::Family<prometheus::Counter>& router_failures;
  prometheus::Family<prometheus::Gauge>& router_in_flight;
  prometheus::Family<prometheus::Counter>& router_retries;
  prometheus::Family<prometheus::Counter>& router_ejections;
};

Families& GetFamilies() {
  static Families* families = new Families(*Registry());
  return *families;
}

prometheus::Labels ReplicaLabels(std::string_view deployment, std::string_view replica) {
  return {{"deployment", std::string(deployment)}, {"replica", std::string(replica)}};
}

// The registered samplers, collected as gauge families at each scrape. The mutex is held while
// the samplers run, so that a registration's destructor waits for a running scrape.
class Samplers : public prometheus::Collectable {
 public:
  uint64_t Add(prometheus::Labels labels, Sampler sampler) {
    std::lock_guard<std::mutex> lock(mu_);
    samplers_.emplace(++last_id_, Entry{std::move(labels), std::move(sampler)});
    return last_id_;
  }
  void Remove(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    samplers_.erase(id);
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::map<std::string, prometheus::MetricFamily> families;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, entry] : samplers_) {
      for (Sample& sample : entry.sampler()) {
        prometheus::MetricFamily& family = families[sample.name];
        family.name = sample.name;
        family.help = sample.help;
        family.type = prometheus::MetricType::Gauge;
        prometheus::ClientMetric metric;
        prometheus::Labels labels = entry.labels;
        labels.insert(sample.labels.begin(), sample.labels.end());
        for (const auto& [name, value] : labels) metric.label.push_back({name, value});
        metric.gauge.value = sample.value;
        family.metric.push_back(std::move(metric));
      }
    }
    std::vector<prometheus::MetricFamily> out;
    for (auto& [name, family] : families) out.push_back(std::move(family));
    return out;
  }

 private:
  struct Entry {
    prometheus::Labels labels;
    Sampler sampler;
  };
  mutable std::mutex mu_;
  uint64_t last_id_ = 0;
  std::map<uint64_t, Entry> samplers_;
};

Samplers& GetSamplers() {
  static Samplers* samplers =
      static_cast<Samplers*>(const_cast<prometheus::Collectable*>(SampledGauges().get()));
  return *samplers;
}

}  // namespace

SamplerRegistration& SamplerRegistration::operator=(SamplerRegistration&& other) noexcept {
  if (this != &other) {
    if (id_ != 0) GetSamplers().Remove(id_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

SamplerRegistration::~SamplerRegistration() {
  if (id_ != 0) GetSamplers().Remove(id_);
}

SamplerRegistration AddSampler(std::map<std::string, std::string> labels, Sampler sampler) {
  return SamplerRegistration(
      GetSamplers().Add(prometheus::Labels(labels.begin(), labels.end()), std::move(sampler)));
}

const std::shared_ptr<prometheus::Collectable>& SampledGauges() {
  static const auto* samplers =
      new std::shared_ptr<prometheus::Collectable>(std::make_shared<Samplers>());
  return *samplers;
}

void Counter::Increment() {
  if (metric_ != nullptr) metric_->Increment();
}
double Counter::Value() const { return metric_ == nullptr ? 0 : metric_->Value(); }

void Gauge::Increment() {
  if (metric_ != nullptr) metric_->Increment();
}
void Gauge::Decrement() {
  if (metric_ != nullptr) metric_->Decrement();
}
double Gauge::Value() const { return metric_ == nullptr ? 0 : metric_->Value(); }

void Histogram::Observe(double value) {
  if (metric_ != nullptr) metric_->Observe(value);
}

std::string_view DeploymentOf(std::string_view replica_name) {
  return replica_name.substr(0, replica_name.find('/'));
}

EndpointMetrics ForReplicaEndpoint(std::string_view deployment, std::string_view replica,
                                   std::string_view endpoint) {
  Families& f = GetFamilies();
  prometheus::Labels labels = ReplicaLabels(deployment, replica);
  labels.emplace("endpoint", std::string(endpoint));
  static const prometheus::Histogram::BucketBoundaries kBuckets(std::begin(kLatencyBuckets),
                                                                std::end(kLatencyBuckets));
  return EndpointMetrics{
      .requests = Counter(&f.replica_requests.Add(labels)),
      .failures = Counter(&f.replica_failures.Add(labels)),
      .latency = Histogram(&f.replica_latency.Add(labels, kBuckets)),
  };
}

BatchingMetrics ForBatchingEndpoint(std::string_view deployment, std::string_view replica,
                                    std::string_view endpoint) {
  Families& f = GetFamilies();
  prometheus::Labels labels = ReplicaLabels(deployment, replica);
  labels.emplace("endpoint", std::string(endpoint));
  static const prometheus::Histogram::BucketBoundaries kLatency(std::begin(kLatencyBuckets),
                                                                std::end(kLatencyBuckets));
  static const prometheus::Histogram::BucketBoundaries kSizes(std::begin(kBatchSizeBuckets),
                                                              std::end(kBatchSizeBuckets));
  return BatchingMetrics{
      .batch_size = Histogram(&f.batch_size.Add(labels, kSizes)),
      .queue_time = Histogram(&f.batch_queue.Add(labels, kLatency)),
      .execution_time = Histogram(&f.batch_execution.Add(labels, kLatency)),
  };
}

Gauge ReplicaInFlight(std::string_view deployment, std::string_view replica) {
  return Gauge(&GetFamilies().replica_in_flight.Add(ReplicaLabels(deployment, replica)));
}

Counter ReplicaDropped(std::string_view deployment, std::string_view replica) {
  return Counter(&GetFamilies().replica_dropped.Add(ReplicaLabels(deployment, replica)));
}

RouteMetrics ForRoute(std::string_view deployment, std::string_view replica) {
  Families& f = GetFamilies();
  prometheus::Labels labels = ReplicaLabels(deployment, replica);
  return RouteMetrics{
      .requests = Counter(&f.router_requests.Add(labels)),
      .failures = Counter(&f.router_failures.Add(labels)),
      .in_flight = Gauge(&f.router_in_flight.Add(labels)),
      .retries = Counter(&f.router_retries.Add(labels)),
      .ejections = Counter(&f.router_ejections.Add(labels)),
  };
}

Counter ReplicaRestarts(std::string_view deployment, std::string_view replica) {
  return Counter(&GetFamilies().replica_restarts.Add(ReplicaLabels(deployment, replica)));
}

Counter AutoscalerDecisions(std::string_view deployment, std::string_view direction) {
  return Counter(&GetFamilies().autoscaler_decisions.Add(
      {{"deployment", std::string(deployment)}, {"direction", std::string(direction)}}));
}

Counter DeploymentRollouts(std::string_view deployment, std::string_view result) {
  return Counter(&GetFamilies().rollouts.Add(
      {{"deployment", std::string(deployment)}, {"result", std::string(result)}}));
}

Gauge DeploymentRolloutInProgress(std::string_view deployment) {
  return Gauge(&GetFamilies().rollout_in_progress.Add({{"deployment", std::string(deployment)}}));
}

const std::shared_ptr<prometheus::Registry>& Registry() {
  // Leaked on purpose: handles point into it until the very end of the process.
  static const auto* registry =
      new std::shared_ptr<prometheus::Registry>(std::make_shared<prometheus::Registry>());
  return *registry;
}

std::string RenderText() {
  std::vector<prometheus::MetricFamily> families = Registry()->Collect();
  std::vector<prometheus::MetricFamily> sampled = SampledGauges()->Collect();
  families.insert(families.end(), std::make_move_iterator(sampled.begin()),
                  std::make_move_iterator(sampled.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace shoal::metrics
