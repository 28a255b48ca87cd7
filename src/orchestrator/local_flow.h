// A Flow on this machine: every Deployment started at once, the graph of their routers, and
// the gateway serving it over gRPC and/or HTTP. What `shoal flow` and shoal::Flow run.
#ifndef SHOAL_ORCHESTRATOR_LOCAL_FLOW_H_
#define SHOAL_ORCHESTRATOR_LOCAL_FLOW_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/config/flow_spec.h"
#include "src/orchestrator/flow_gateway.h"
#include "src/orchestrator/local_deployment.h"

namespace shoal::orchestrator {

// Thread-safe. Stop() drains the gateway first, then stops every Deployment.
class LocalFlow {
 public:
  struct Options {
    LocalDeployment::Options local;
  };
  static StatusOr<std::unique_ptr<LocalFlow>> Start(const config::FlowSpec& spec,
                                                    const Options& options);
  ~LocalFlow();

  // The port of each protocol, in the order of spec.protocols.
  const std::vector<int>& ports() const { return gateway_->ports(); }
  int grpc_port() const { return gateway_->grpc_port(); }  // 0 when the Flow serves no gRPC
  int http_port() const { return gateway_->http_port(); }  // 0 when the Flow serves no HTTP
  LocalDeployment* deployment(const std::string& name);
  // Moves the running Flow's Executors to those of `spec` (a reloaded YAML): each Executor
  // whose keys changed is updated (LocalDeployment::Update), one at a time, in the Flow's
  // order. Refused before any change when Executors were added, removed or renamed, when the
  // graph (needs, floating, no_reduce) changed, or when some Executor's change is refused.
  // Flow-level keys (the gateway's) are not reloaded. Stops at the first failed update.
  Status UpdateExecutors(const config::FlowSpec& spec);
  void Stop(absl::Duration grace = absl::Seconds(10));

 private:
  LocalFlow() = default;

  config::FlowSpec spec_;
  std::vector<std::unique_ptr<LocalDeployment>> deployments_;
  std::unique_ptr<FlowGateway> gateway_;
};

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_LOCAL_FLOW_H_
