// shoal::Deployment (include/shoal/deployment.h) over StandaloneDeployment.
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "shoal/deployment.h"
#include "src/config/deployment_yaml.h"
#include "src/orchestrator/api_specs.h"
#include "src/orchestrator/standalone.h"

namespace shoal {
namespace orchestrator {

StatusOr<config::DeploymentSpec> ToDeploymentSpec(const DeploymentOptions& o) {
  config::DeploymentSpec spec;
  spec.name = o.name;
  spec.uses = o.uses;
  if (!google::protobuf::util::JsonStringToMessage(o.uses_with, &spec.uses_with).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Deployment '", o.name, "': uses_with is not a JSON object: ", o.uses_with));
  }
  if (o.uses_dynamic_batching != "{}" && !o.uses_dynamic_batching.empty()) {
    StatusOr<config::DynamicBatchingTable> batching = config::ParseDynamicBatchingJson(
        o.uses_dynamic_batching, absl::StrCat("Deployment '", o.name, "': uses_dynamic_batching"));
    if (!batching.ok()) return batching.status();
    spec.uses_dynamic_batching = *std::move(batching);
  }
  spec.replicas = o.replicas;
  spec.shards = o.shards;
  if (!o.polling.empty() && o.polling.front() == '{') {
    google::protobuf::Struct polling;
    if (!google::protobuf::util::JsonStringToMessage(o.polling, &polling).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Deployment '", o.name, "': polling is not a JSON object: ", o.polling));
    }
    for (const auto& [endpoint, value] : polling.fields()) {
      if (endpoint == "*") {
        spec.polling_default = value.string_value();
      } else {
        spec.polling[endpoint] = value.string_value();
      }
    }
  } else {
    spec.polling_default = o.polling;
  }
  if (o.port != 0) spec.port = o.port;
  spec.env = o.env;
  spec.external = o.external;
  spec.inprocess = o.inprocess;
  if (o.external) spec.host = o.external_hosts;
  spec.timeout_ready_ms = o.timeout_ready_ms;
  if (o.timeout_send_ms > 0) spec.timeout_send_ms = o.timeout_send_ms;
  spec.max_queued_requests = o.max_queued_requests;
  spec.max_docs_per_request = o.max_docs_per_request;
  spec.grpc_server_limits.max_receive_message_bytes = o.max_message_size;
  spec.expose_internal_errors = o.expose_internal_errors;
  spec.retries = o.retries;
  spec.workspace = o.workspace;
  spec.stateful = o.stateful;
  spec.peer_ports = o.peer_ports;
  spec.read_consistency = o.read_consistency;
  if (!google::protobuf::util::JsonStringToMessage(o.raft_configuration, &spec.raft_configuration)
           .ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Deployment '", o.name,
                     "': raft_configuration is not a JSON object: ", o.raft_configuration));
  }
  if (!o.autoscaling.empty()) {
    google::protobuf::Struct fields;
    if (!google::protobuf::util::JsonStringToMessage(o.autoscaling, &fields).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Deployment '", o.name, "': autoscaling is not a JSON object: ", o.autoscaling));
    }
    StatusOr<config::AutoscalingConfig> autoscaling = config::ParseAutoscaling(fields, {});
    if (!autoscaling.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Deployment '", o.name, "': ", autoscaling.status().message()));
    }
    spec.autoscaling = *std::move(autoscaling);
    spec.replicas = config::InitialReplicas(spec);
  }
  spec.needs = o.needs;
  spec.floating = o.floating;
  spec.no_reduce = o.no_reduce;
  spec.auth_token = o.auth_token;
  spec.ssl_certfile = o.ssl_certfile;
  spec.ssl_keyfile = o.ssl_keyfile;
  spec.internal_tls = {.certfile = o.internal_tls.certfile,
                       .keyfile = o.internal_tls.keyfile,
                       .cafile = o.internal_tls.cafile};
  spec.reflection = o.reflection;
  return spec;
}

}  // namespace orchestrator

class Deployment::Impl {
 public:
  StatusOr<config::DeploymentSpec> spec;
  std::string host = "127.0.0.1";
  std::string shoal_binary;
  int max_replicas = config::kDefaultMaxReplicas;
  std::unique_ptr<orchestrator::StandaloneDeployment> running;
  std::optional<Client> client;
};

Deployment::Deployment(DeploymentOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->spec = orchestrator::ToDeploymentSpec(options);
  impl_->host = options.host;
  impl_->shoal_binary = options.shoal_binary;
  impl_->max_replicas = options.max_replicas;
}

Deployment::Deployment(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusOr<Deployment> Deployment::FromYaml(const std::filesystem::path& file) {
  auto impl = std::make_unique<Impl>();
  impl->spec = config::LoadDeploymentYaml(file);
  if (!impl->spec.ok()) return impl->spec.status();
  return Deployment(std::move(impl));
}

Deployment::Deployment(Deployment&&) noexcept = default;
Deployment& Deployment::operator=(Deployment&&) noexcept = default;
Deployment::~Deployment() {
  if (impl_ != nullptr) Stop();
}

Status Deployment::Start() {
  if (!impl_->spec.ok()) return impl_->spec.status();
  if (impl_->running != nullptr) return absl::FailedPreconditionError("already started");
  orchestrator::StandaloneDeployment::Options options;
  options.gateway_host = impl_->host;
  options.local.shoal_binary = impl_->shoal_binary;
  options.local.max_replicas = impl_->max_replicas;
  SHOAL_ASSIGN_OR_RETURN(impl_->running,
                         orchestrator::StandaloneDeployment::Start(*impl_->spec, options));
  const config::DeploymentSpec& spec = *impl_->spec;
  ClientOptions client_options{.auth_token = spec.auth_token};
  if (!spec.ssl_certfile.empty()) {
    client_options.tls = true;
    client_options.ssl_cafile = spec.ssl_certfile;
  }
  SHOAL_ASSIGN_OR_RETURN(
      Client client,
      Client::Connect(absl::StrCat("127.0.0.1:", impl_->running->port()), client_options));
  impl_->client.emplace(std::move(client));
  return absl::OkStatus();
}

StatusOr<DocList> Deployment::Post(std::string_view on, const DocList& inputs,
                                   const PostOptions& options) {
  if (!impl_->client.has_value()) return absl::FailedPreconditionError("not started");
  return impl_->client->Post(on, inputs, options);
}

void Deployment::Stop() {
  impl_->client.reset();
  if (impl_->running != nullptr) impl_->running->Stop();
  impl_->running.reset();
}

int Deployment::port() const { return impl_->running ? impl_->running->port() : 0; }

std::vector<std::vector<std::string>> Deployment::replica_addresses() const {
  if (!impl_->running) return {};
  return impl_->running->deployment().ReplicaAddresses();
}

Status Deployment::Scale(int replicas) {
  if (!impl_->running) {
    return absl::FailedPreconditionError("Scale() needs a started Deployment");
  }
  return impl_->running->deployment().Scale(replicas);
}

Status Deployment::Update(const DeploymentOptions& options) {
  if (!impl_->running) {
    return absl::FailedPreconditionError("Update() needs a started Deployment");
  }
  SHOAL_ASSIGN_OR_RETURN(config::DeploymentSpec spec, orchestrator::ToDeploymentSpec(options));
  return impl_->running->deployment().Update(spec);
}

int Deployment::replica_pid(int shard, int replica) const {
  if (!impl_->running) return -1;
  return impl_->running->deployment().ReplicaPid(shard, replica);
}

}  // namespace shoal
