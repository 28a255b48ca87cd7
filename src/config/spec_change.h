// What changes when a running Deployment moves from one spec to another: the keys whose change
// needs new replica processes (a rolling update), the keys applied in place, and the keys a
// running Deployment cannot change at all.
#ifndef SHOAL_CONFIG_SPEC_CHANGE_H_
#define SHOAL_CONFIG_SPEC_CHANGE_H_

#include <string>
#include <vector>

#include "shoal/status.h"
#include "src/config/deployment_spec.h"

namespace shoal::config {

struct SpecChange {
  std::vector<std::string> restart;   // keys whose change needs new replica processes
  std::vector<std::string> in_place;  // keys applied without restarting any replica
  bool empty() const { return restart.empty() && in_place.empty(); }
};

// The keys that differ between `from` and `to`. INVALID_ARGUMENT naming the Deployment and the
// key when one of them cannot change while the Deployment runs (its name, shards, ...).
StatusOr<SpecChange> DiffDeploymentSpecs(const DeploymentSpec& from, const DeploymentSpec& to);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_SPEC_CHANGE_H_
