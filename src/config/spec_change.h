// What changes when a running Deployment moves from one spec to another: the keys whose change
// needs new replica processes (a rolling update), the keys applied in place, and the keys a
// running Deployment cannot change at all.
//
// Every key of DeploymentSpec is in exactly one class:
// - refused while running: what names or places the Deployment and its clients' view of it
//   (name, shards, stateful, external, port, host, external addresses, tls, tls_ca_file,
//   workspace, port_monitoring, peer_ports), its security (auth_token, ssl_certfile,
//   ssl_keyfile, internal_tls, reflection, expose_internal_errors: the gateway and the router
//   hold them) and its place in a Flow's graph (needs, floating, no_reduce, grpc_metadata);
// - restart (a rolling update): what the replicas' command line or environment carries (uses,
//   uses_with, uses_metas, uses_dynamic_batching, env, gpus, max_queued_requests,
//   max_docs_per_request, grpc_server_options, raft_configuration, read_consistency);
// - in place: what the orchestrator and the router apply to running replicas (replicas,
//   timeout_send, timeout_ready, retries, polling, load_balancing, autoscaling).
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
  bool InPlace(const std::string& key) const;  // `key` is among `in_place`
};

// The keys that differ between `from` and `to`, in the order of the list above, named as
// written in YAML. INVALID_ARGUMENT "file:line:column: Deployment 'x': key 'k' cannot change
// while the Deployment runs (...)" (the location from `to.origin`, when known) for the first
// refused key that differs.
StatusOr<SpecChange> DiffDeploymentSpecs(const DeploymentSpec& from, const DeploymentSpec& to);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_SPEC_CHANGE_H_
