// A Flow's gateway alone, over Deployments that run elsewhere (`shoal gateway`, what a
// Kubernetes gateway pod runs): every Executor is external, and its router is built from its
// spec (BuildRouter) without starting anything but the gateway.
#ifndef SHOAL_ORCHESTRATOR_REMOTE_FLOW_H_
#define SHOAL_ORCHESTRATOR_REMOTE_FLOW_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/config/flow_spec.h"
#include "src/metrics/exposer.h"
#include "src/orchestrator/flow_gateway.h"
#include "src/routing/deployment_router.h"

namespace shoal::orchestrator {

// Thread-safe. Stop() drains the gateway.
class RemoteFlow {
 public:
  struct Options {
    // Replicas (addresses x shards) each Executor may have.
    int max_replicas = config::kDefaultMaxReplicas;
  };
  // FAILED_PRECONDITION when an Executor of `spec` is not external.
  static StatusOr<std::unique_ptr<RemoteFlow>> Start(const config::FlowSpec& spec,
                                                     const Options& options);
  ~RemoteFlow();

  // The port of each protocol, in the order of spec.protocols.
  const std::vector<int>& ports() const { return gateway_->ports(); }
  void Stop(absl::Duration grace = absl::Seconds(10));

 private:
  // What the gateway keeps of one Executor: its router and its metrics (port_monitoring).
  struct Deployment {
    std::unique_ptr<metrics::Exposer> metrics;
    std::unique_ptr<routing::DeploymentRouter> router;
  };
  static StatusOr<Deployment> Connect(const config::DeploymentSpec& spec, const std::string& host,
                                      int max_replicas);
  RemoteFlow() = default;

  std::vector<Deployment> deployments_;
  std::unique_ptr<FlowGateway> gateway_;
};

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_REMOTE_FLOW_H_
