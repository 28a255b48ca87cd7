// RemoteFlow: every Executor's router from its spec (at once, as names may be looked up), then
// the gateway over them.
#include "src/orchestrator/remote_flow.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/orchestrator/capacity.h"
#include "src/orchestrator/local_deployment.h"
#include "src/orchestrator/router_builder.h"

namespace shoal::orchestrator {

StatusOr<RemoteFlow::Deployment> RemoteFlow::Connect(const config::DeploymentSpec& spec,
                                                     const std::string& host, int max_replicas) {
  if (!spec.external) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Executor '", spec.name, "' has no addresses: a gateway alone starts no replicas"));
  }
  SHOAL_RETURN_IF_ERROR(CheckDeploymentCanStart(spec, max_replicas));
  Deployment deployment;
  SHOAL_ASSIGN_OR_RETURN(deployment.metrics, StartDeploymentMetrics(spec, host));
  SHOAL_ASSIGN_OR_RETURN(std::vector<std::vector<routing::Address>> replicas,
                         ExternalReplicas(spec));
  SHOAL_ASSIGN_OR_RETURN(deployment.router, BuildRouter(spec, replicas));
  return deployment;
}

StatusOr<std::unique_ptr<RemoteFlow>> RemoteFlow::Start(const config::FlowSpec& spec,
                                                        const Options& options) {
  SHOAL_RETURN_IF_ERROR(config::ValidateFlowSpec(spec));
  std::vector<const config::DeploymentSpec*> executors;
  for (const config::DeploymentSpec& executor : spec.executors) executors.push_back(&executor);
  SHOAL_RETURN_IF_ERROR(
      CheckCanStart(executors, options.max_replicas, absl::StrCat("Flow '", spec.name, "'")));
  std::vector<StatusOr<Deployment>> connected;
  for (size_t i = 0; i < spec.executors.size(); ++i) connected.emplace_back(absl::UnknownError(""));
  std::vector<std::thread> connectors;
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    connectors.emplace_back(
        [&, i] { connected[i] = Connect(spec.executors[i], spec.host, options.max_replicas); });
  }
  for (std::thread& t : connectors) t.join();
  std::unique_ptr<RemoteFlow> flow(new RemoteFlow());
  std::vector<routing::DeploymentRouter*> routers;
  for (StatusOr<Deployment>& deployment : connected) {
    if (!deployment.ok()) return deployment.status();
    routers.push_back(deployment->router.get());
    flow->deployments_.push_back(std::move(deployment).value());
  }
  SHOAL_ASSIGN_OR_RETURN(flow->gateway_, FlowGateway::Start(spec, routers));
  return flow;
}

void RemoteFlow::Stop(absl::Duration grace) {
  if (gateway_ == nullptr) return;
  gateway_->StopServing(grace);
  gateway_->Drain(absl::Seconds(30));
}

RemoteFlow::~RemoteFlow() { Stop(); }

}  // namespace shoal::orchestrator
