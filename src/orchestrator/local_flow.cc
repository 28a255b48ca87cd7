// LocalFlow: parallel start of the Deployments, then the graph and the gateway's servers.
#include "src/orchestrator/local_flow.h"

#include <limits>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/common/log.h"
#include "src/orchestrator/capacity.h"

namespace shoal::orchestrator {

std::vector<gateway::GraphNode> BuildGraph(const config::FlowSpec& spec,
                                           const std::vector<routing::DeploymentRouter*>& routers) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < spec.executors.size(); ++i) index[spec.executors[i].name] = i;
  std::vector<gateway::GraphNode> nodes;
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    const config::DeploymentSpec& d = spec.executors[i];
    gateway::GraphNode node{.name = d.name, .router = routers[i], .no_reduce = d.no_reduce};
    for (const std::string& need : d.needs) {
      if (need != config::kGatewayNode) node.needs.push_back(index.at(need));
    }
    // A node that needs the gateway and others waits for the others only.
    nodes.push_back(std::move(node));
  }
  return nodes;
}

StatusOr<std::unique_ptr<LocalFlow>> LocalFlow::Start(const config::FlowSpec& spec,
                                                      const Options& options) {
  SHOAL_RETURN_IF_ERROR(config::ValidateFlowSpec(spec));
  // Every Deployment is checked before any of them starts a replica.
  std::vector<const config::DeploymentSpec*> executors;
  for (const config::DeploymentSpec& executor : spec.executors) executors.push_back(&executor);
  SHOAL_RETURN_IF_ERROR(CheckCanStart(executors, options.local.max_replicas,
                                      absl::StrCat("Flow '", spec.name, "'")));
  std::unique_ptr<LocalFlow> flow(new LocalFlow());
  flow->spec_ = spec;
  // Every Deployment starts at once; the Flow is ready when the slowest one is.
  std::vector<StatusOr<std::unique_ptr<LocalDeployment>>> started;
  for (size_t i = 0; i < spec.executors.size(); ++i) started.emplace_back(absl::UnknownError(""));
  std::vector<std::thread> starters;
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    starters.emplace_back([&, i] {
      const config::DeploymentSpec& executor = spec.executors[i];
      LocalDeployment::Options local = options.local;
      local.metrics_host = spec.host;
      // In a Flow an Executor's `port` is its replica's (no head; ValidateFlowSpec allows it
      // with one replica only), as Jina's Flow gives a one-replica Executor its port.
      if (!executor.external && executor.port.has_value()) local.replica_port = *executor.port;
      started[i] = LocalDeployment::Start(executor, local);
    });
  }
  for (std::thread& t : starters) t.join();
  Status failure;
  for (auto& s : started) {
    if (s.ok()) {
      flow->deployments_.push_back(std::move(s).value());
    } else if (failure.ok()) {
      failure = s.status();
    }
  }
  if (!failure.ok()) return failure;  // the started Deployments stop with `flow`

  std::vector<routing::DeploymentRouter*> routers;
  for (auto& d : flow->deployments_) routers.push_back(&d->router());
  flow->gateway_ =
      std::make_unique<gateway::Gateway>(BuildGraph(spec, routers), config::EndNode(spec));
  flow->gateway_->Discover(std::chrono::seconds(10));

  for (size_t p = 0; p < spec.protocols.size(); ++p) {
    int port = p < spec.ports.size() ? spec.ports[p] : 0;
    if (absl::AsciiStrToLower(spec.protocols[p]) == "grpc") {
      gateway::GatewayServer::Options grpc_options;
      grpc_options.host = spec.host;
      grpc_options.port = port;
      grpc_options.prefetch = spec.prefetch;
      grpc_options.name = spec.name + "/gateway";
      const config::GrpcServerLimits& limits = spec.grpc_server_limits;
      grpc_options.max_receive_message_bytes =
          limits.max_receive_message_bytes.value_or(grpc_options.max_receive_message_bytes);
      grpc_options.max_send_message_bytes =
          limits.max_send_message_bytes.value_or(grpc_options.max_send_message_bytes);
      grpc_options.tls = {
          .certfile = spec.ssl_certfile, .keyfile = spec.ssl_keyfile, .cafile = spec.ssl_cafile};
      grpc_options.auth_token = spec.auth_token;
      grpc_options.reflection = spec.reflection;
      SHOAL_ASSIGN_OR_RETURN(flow->grpc_,
                             gateway::GatewayServer::Start(flow->gateway_.get(), grpc_options));
      flow->ports_.push_back(flow->grpc_->port());
    } else {
      gateway::HttpServer::Options http_options;
      http_options.host = spec.host;
      http_options.port = port;
      http_options.ssl_certfile = spec.ssl_certfile;
      http_options.ssl_keyfile = spec.ssl_keyfile;
      http_options.auth_token = spec.auth_token;
      if (spec.max_docs_per_request > 0) {
        http_options.max_docs_per_request = static_cast<size_t>(spec.max_docs_per_request);
      } else {
        http_options.max_docs_per_request = std::numeric_limits<size_t>::max();
      }
      SHOAL_ASSIGN_OR_RETURN(flow->http_,
                             gateway::HttpServer::Start(flow->gateway_.get(), http_options));
      flow->ports_.push_back(flow->http_->port());
    }
  }
  if (spec.port_monitoring.has_value()) {
    SHOAL_ASSIGN_OR_RETURN(flow->metrics_,
                           metrics::StartExposer(spec.host, *spec.port_monitoring));
    SHOAL_LOG_INFO("metrics on %s:%d", spec.host, flow->metrics_->port());
  }
  SHOAL_LOG_INFO("Flow '%s' serving %d Executor(s) on %s", spec.name,
                 static_cast<int>(spec.executors.size()), spec.host);
  return flow;
}

int LocalFlow::grpc_port() const { return grpc_ != nullptr ? grpc_->port() : 0; }
int LocalFlow::http_port() const { return http_ != nullptr ? http_->port() : 0; }

LocalDeployment* LocalFlow::deployment(const std::string& name) {
  for (auto& d : deployments_) {
    if (d->spec().name == name) return d.get();
  }
  return nullptr;
}

void LocalFlow::Stop(absl::Duration grace) {
  if (grpc_ != nullptr) grpc_->Shutdown(grace);
  if (http_ != nullptr) http_->Shutdown();
  // Floating branches may still be routing: they finish (or fail fast once the replicas are
  // gone) before the routers they use are destroyed.
  if (gateway_ != nullptr && !gateway_->Drain(grace)) {
    SHOAL_LOG_WARNING("Flow '%s': requests still routing after %s; stopping anyway", spec_.name,
                      absl::FormatDuration(grace));
  }
  std::vector<std::thread> stoppers;
  for (auto& d : deployments_) stoppers.emplace_back([&d] { d->Stop(); });
  for (std::thread& t : stoppers) t.join();
  if (gateway_ != nullptr) gateway_->Drain(absl::Seconds(30));
}

LocalFlow::~LocalFlow() { Stop(); }

}  // namespace shoal::orchestrator
