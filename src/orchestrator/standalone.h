// A standalone Deployment: a LocalDeployment plus the gateway that serves it on one port. What
// `shoal deployment` and shoal::Deployment run.
#ifndef SHOAL_ORCHESTRATOR_STANDALONE_H_
#define SHOAL_ORCHESTRATOR_STANDALONE_H_

#include <memory>

#include "absl/time/time.h"
#include "src/gateway/gateway.h"
#include "src/gateway/gateway_server.h"
#include "src/orchestrator/local_deployment.h"

namespace shoal::orchestrator {

// Thread-safe. Stop() drains the gateway first, then stops the replicas.
class StandaloneDeployment {
 public:
  struct Options {
    LocalDeployment::Options local;
    std::string gateway_host = "0.0.0.0";
  };
  static StatusOr<std::unique_ptr<StandaloneDeployment>> Start(const config::DeploymentSpec& spec,
                                                               const Options& options);
  ~StandaloneDeployment();

  int port() const { return server_->port(); }
  LocalDeployment& deployment() { return *deployment_; }
  void Stop(absl::Duration grace = absl::Seconds(10));

 private:
  StandaloneDeployment() = default;
  std::unique_ptr<LocalDeployment> deployment_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<gateway::GatewayServer> server_;
};

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_STANDALONE_H_
