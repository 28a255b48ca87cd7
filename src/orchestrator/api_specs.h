// The public API's options (include/shoal/*.h) turned into the specs the orchestrator runs.
#ifndef SHOAL_ORCHESTRATOR_API_SPECS_H_
#define SHOAL_ORCHESTRATOR_API_SPECS_H_

#include "shoal/deployment.h"
#include "src/config/deployment_spec.h"

namespace shoal::orchestrator {

// Errors name the Deployment and the option (uses_with or polling that is not JSON).
StatusOr<config::DeploymentSpec> ToDeploymentSpec(const DeploymentOptions& options);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_API_SPECS_H_
