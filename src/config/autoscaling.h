// A Deployment's `autoscaling:` policy (Ray Serve's AutoscalingConfig: names, units and
// defaults), as parsed from YAML or the APIs and checked against the rest of the Deployment.
// The orchestrator's Autoscaler applies it; the Kubernetes export turns it into an HPA.
#ifndef SHOAL_CONFIG_AUTOSCALING_H_
#define SHOAL_CONFIG_AUTOSCALING_H_

#include <map>
#include <optional>
#include <string>

#include "google/protobuf/struct.pb.h"
#include "shoal/status.h"

namespace shoal::config {

struct DeploymentSpec;

// Immutable once parsed. Durations are seconds; replica counts are per shard.
struct AutoscalingConfig {
  int min_replicas = 1;  // at least 1: Shoal does not scale to zero
  int max_replicas = 1;
  // The count the Deployment starts with; unset: `replicas` clamped to [min, max].
  std::optional<int> initial_replicas;
  // Requests in flight (sent by the router, not yet answered) per replica to aim for.
  double target_ongoing_requests = 2;
  double metrics_interval_s = 10;  // how often the router's in-flight counts are sampled
  double look_back_period_s = 30;  // the window the samples are averaged over
  double upscale_delay_s = 30;     // how long more replicas must be wanted before adding them
  double downscale_delay_s = 600;  // how long fewer must be wanted before removing any
  // Multiply the step towards the wanted count (1: the whole step). `smoothing_factor` sets
  // both.
  double upscaling_factor = 1;
  double downscaling_factor = 1;
  bool operator==(const AutoscalingConfig&) const = default;
};

// Reads `autoscaling` written as a map. Keys are Ray Serve's (`upscale_delay_s`), and also
// without the `_s` (`upscale_delay`); `origin` maps "autoscaling.key" (else "autoscaling") to
// "file:line:column" for errors. Unknown keys, non-numbers and out-of-range values are
// InvalidArgument "file:line:column: autoscaling.key: message".
StatusOr<AutoscalingConfig> ParseAutoscaling(const google::protobuf::Struct& fields,
                                             const std::map<std::string, std::string>& origin);

// `spec.autoscaling`, if set, against the rest of the spec: not stateful, not external,
// initial_replicas within [min, max]. Errors as ParseAutoscaling's.
Status ValidateAutoscaling(const DeploymentSpec& spec);

// The replicas per shard a Deployment starts with: `spec.replicas` without autoscaling, else
// initial_replicas, else `spec.replicas` clamped to [min_replicas, max_replicas].
int InitialReplicas(const DeploymentSpec& spec);

// The most replicas per shard the Deployment may reach: max_replicas with autoscaling, else
// `spec.replicas`.
int PeakReplicas(const DeploymentSpec& spec);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_AUTOSCALING_H_
