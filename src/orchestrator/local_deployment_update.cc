// LocalDeployment::Update: what changed, the autoscaler replaced when its policy did, and the
// keys applied in place (replicas, router settings, timeouts, autoscaling).
#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/log.h"
#include "src/orchestrator/local_deployment.h"
#include "src/orchestrator/router_builder.h"

namespace shoal::orchestrator {

Status LocalDeployment::Update(const config::DeploymentSpec& spec) {
  absl::MutexLock update_lock(&update_mu_);
  config::DeploymentSpec target = spec;
  config::SpecChange change;
  {
    absl::MutexLock scale_lock(&scale_mu_);  // the autoscaler's Scale() changes spec_.replicas
    if (target.autoscaling.has_value()) {
      // The autoscaler owns the count: the running one stays, within the new bounds.
      target.replicas = std::clamp(spec_.replicas, target.autoscaling->min_replicas,
                                   target.autoscaling->max_replicas);
    }
    SHOAL_ASSIGN_OR_RETURN(change, config::DiffDeploymentSpecs(spec_, target));
  }
  if (change.empty()) return absl::OkStatus();
  SHOAL_RETURN_IF_ERROR(config::ValidateDeploymentSpec(target));
  if (supervisor_ == nullptr) return UpdateRouterOnly(target, change);
  const bool new_autoscaler = change.InPlace("autoscaling");
  if (new_autoscaler) StopAutoscaler();
  Status status;
  {
    absl::MutexLock scale_lock(&scale_mu_);
    if (!change.restart.empty()) status = RollReplicasLocked(target);
    if (status.ok()) status = ApplyInPlaceLocked(target, change);
  }
  // The new policy, or the old one again when the update failed before it applied.
  if (new_autoscaler) StartAutoscaler();
  const std::string keys = absl::StrJoin(change.restart, ", ") +
                           (change.restart.empty() || change.in_place.empty() ? "" : ", ") +
                           absl::StrJoin(change.in_place, ", ");
  if (!status.ok()) {
    SHOAL_LOG_ERROR("Deployment '%s': update of %s failed: %s", spec_.name, keys, status.message());
    return status;
  }
  SHOAL_LOG_INFO("Deployment '%s': updated %s", spec_.name, keys);
  return absl::OkStatus();
}

Status LocalDeployment::UpdateRouterOnly(const config::DeploymentSpec& spec,
                                         const config::SpecChange& change) {
  // Without replica processes (external or inprocess) only the router's own settings change.
  static constexpr std::string_view kRouterKeys[] = {"retries", "timeout_send", "polling",
                                                     "load_balancing"};
  auto router_key = [](const std::string& key) {
    return std::find(std::begin(kRouterKeys), std::end(kRouterKeys), key) != std::end(kRouterKeys);
  };
  if (!change.restart.empty() ||
      !std::all_of(change.in_place.begin(), change.in_place.end(), router_key)) {
    return NoReplicaProcesses();
  }
  {
    absl::MutexLock scale_lock(&scale_mu_);
    SHOAL_RETURN_IF_ERROR(ApplyRouterKeysLocked(spec));
  }
  SHOAL_LOG_INFO("Deployment '%s': updated %s", spec_.name, absl::StrJoin(change.in_place, ", "));
  return absl::OkStatus();
}

void LocalDeployment::StopAutoscaler() {
  std::unique_ptr<Autoscaler> autoscaler;
  {
    absl::MutexLock lock(&autoscaler_mu_);
    autoscaler = std::move(autoscaler_);
  }
  if (autoscaler == nullptr) return;
  autoscaler->RequestStop();
  autoscaler->Join();
}

Status LocalDeployment::ApplyInPlaceLocked(const config::DeploymentSpec& spec,
                                           const config::SpecChange& change) {
  if (change.in_place.empty()) return absl::OkStatus();
  // The replica count first: the only step that can fail, and it leaves the rest as it was.
  const int old_timeout_ready_ms = spec_.timeout_ready_ms;
  {
    absl::MutexLock lock(&members_mu_);  // spec_ is written under both locks
    spec_.timeout_ready_ms = spec.timeout_ready_ms;
  }
  supervisor_->SetReadyTimeout(spec.timeout_ready_ms < 0
                                   ? absl::InfiniteDuration()
                                   : absl::Milliseconds(spec.timeout_ready_ms));
  int replicas = spec.replicas;
  if (spec.autoscaling.has_value()) {
    replicas =
        std::clamp(spec_.replicas, spec.autoscaling->min_replicas, spec.autoscaling->max_replicas);
  }
  if (Status scaled = ScaleLocked(replicas); !scaled.ok()) {
    {
      absl::MutexLock lock(&members_mu_);
      spec_.timeout_ready_ms = old_timeout_ready_ms;
    }
    supervisor_->SetReadyTimeout(old_timeout_ready_ms < 0
                                     ? absl::InfiniteDuration()
                                     : absl::Milliseconds(old_timeout_ready_ms));
    return scaled;
  }
  SHOAL_RETURN_IF_ERROR(ApplyRouterKeysLocked(spec));
  absl::MutexLock lock(&members_mu_);
  spec_.autoscaling = spec.autoscaling;
  return absl::OkStatus();
}

Status LocalDeployment::ApplyRouterKeysLocked(const config::DeploymentSpec& spec) {
  SHOAL_RETURN_IF_ERROR(ApplyRouterSettings(spec, *router_));
  absl::MutexLock lock(&members_mu_);  // spec_ is written under both locks
  spec_.retries = spec.retries;
  spec_.timeout_send_ms = spec.timeout_send_ms;
  spec_.polling_default = spec.polling_default;
  spec_.polling = spec.polling;
  spec_.load_balancing = spec.load_balancing;
  return absl::OkStatus();
}

}  // namespace shoal::orchestrator
