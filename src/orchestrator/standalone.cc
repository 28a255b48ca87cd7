// StandaloneDeployment: replicas first, then the gateway on the Deployment's port.
#include "src/orchestrator/standalone.h"

#include "src/common/log.h"

namespace shoal::orchestrator {

StatusOr<std::unique_ptr<StandaloneDeployment>> StandaloneDeployment::Start(
    const config::DeploymentSpec& spec, const Options& options) {
  std::unique_ptr<StandaloneDeployment> standalone(new StandaloneDeployment());
  LocalDeployment::Options local = options.local;
  local.metrics_host = options.gateway_host;
  SHOAL_ASSIGN_OR_RETURN(standalone->deployment_, LocalDeployment::Start(spec, local));
  standalone->gateway_ = std::make_unique<gateway::Gateway>(
      std::vector<routing::DeploymentRouter*>{&standalone->deployment_->router()});
  standalone->gateway_->Discover(std::chrono::seconds(10));
  gateway::GatewayServer::Options server_options;
  server_options.host = options.gateway_host;
  server_options.port = spec.port.value_or(0);
  server_options.name = spec.name + "/gateway";
  const config::GrpcServerLimits& limits = spec.grpc_server_limits;
  server_options.max_receive_message_bytes =
      limits.max_receive_message_bytes.value_or(server_options.max_receive_message_bytes);
  server_options.max_send_message_bytes =
      limits.max_send_message_bytes.value_or(server_options.max_send_message_bytes);
  server_options.tls = {.certfile = spec.ssl_certfile, .keyfile = spec.ssl_keyfile};
  server_options.auth_token = spec.auth_token;
  server_options.reflection = spec.reflection;
  SHOAL_ASSIGN_OR_RETURN(standalone->server_,
                         gateway::GatewayServer::Start(standalone->gateway_.get(), server_options));
  SHOAL_LOG_INFO("Deployment '%s' serving on %s:%d (%d shard(s) x %d replica(s))", spec.name,
                 options.gateway_host, standalone->server_->port(), spec.shards, spec.replicas);
  return standalone;
}

void StandaloneDeployment::Stop(absl::Duration grace) {
  if (server_ != nullptr) server_->Shutdown(grace);
  if (gateway_ != nullptr) gateway_->Drain(grace);
  if (deployment_ != nullptr) deployment_->Stop();
}

StandaloneDeployment::~StandaloneDeployment() { Stop(); }

}  // namespace shoal::orchestrator
