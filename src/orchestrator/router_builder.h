// A Deployment's router from its spec: the replica sets of its shards (TLS, token, balancing),
// its polling table, retries and send timeout. Pure functions of the spec and the replicas'
// addresses, so that a Deployment that starts its replicas and a gateway whose Deployments run
// elsewhere build the same router. Kept here, not in routing/, which knows no config.
#ifndef SHOAL_ORCHESTRATOR_ROUTER_BUILDER_H_
#define SHOAL_ORCHESTRATOR_ROUTER_BUILDER_H_

#include <memory>
#include <string>
#include <vector>

#include "shoal/status.h"
#include "src/config/deployment_spec.h"
#include "src/metrics/exposer.h"
#include "src/routing/address.h"
#include "src/routing/deployment_router.h"

namespace shoal::orchestrator {

// "file:line: " where `key` of `spec` was written, or "" when unknown.
std::string WhereWritten(const config::DeploymentSpec& spec, const std::string& key);

// The replicas of an external Deployment, per shard: each address one replica (a dns:/// name
// stands for what it resolves to); TLS when the address or internal_tls says so. Checks first
// that tls_ca_file holds a PEM certificate, so that the mistake names its key.
StatusOr<std::vector<std::vector<routing::Address>>> ExternalReplicas(
    const config::DeploymentSpec& spec);

// The router of `spec` over `replicas` (per shard, in order).
StatusOr<std::unique_ptr<routing::DeploymentRouter>> BuildRouter(
    const config::DeploymentSpec& spec, const std::vector<std::vector<routing::Address>>& replicas);

// Gives the running `router` the settings of `spec` it changes in place: retries,
// timeout_send, polling and load_balancing.
Status ApplyRouterSettings(const config::DeploymentSpec& spec, routing::DeploymentRouter& router);

// The Deployment's metrics (spec.port_monitoring) on `host`; null when it asks for none.
StatusOr<std::unique_ptr<metrics::Exposer>> StartDeploymentMetrics(
    const config::DeploymentSpec& spec, const std::string& host);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_ROUTER_BUILDER_H_
