// shoal::Flow (include/shoal/flow.h) over LocalFlow.
#include <set>

#include "absl/strings/str_cat.h"
#include "shoal/flow.h"
#include "src/config/flow_yaml.h"
#include "src/export/kubernetes.h"
#include "src/orchestrator/api_specs.h"
#include "src/orchestrator/local_flow.h"

namespace shoal {

class Flow::Impl {
 public:
  config::FlowSpec spec;
  Status error;                             // the first bad Add(), reported by Start()
  std::string last = config::kGatewayNode;  // the last non-floating node
  std::string host = "127.0.0.1";
  std::string shoal_binary;
  int max_replicas = config::kDefaultMaxReplicas;
  TlsFiles internal_tls;  // FlowOptions.internal_tls, for the Executors added
  std::unique_ptr<orchestrator::LocalFlow> running;
  std::optional<Client> client;
};

Flow::Flow(FlowOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->spec.name = options.name;
  impl_->spec.protocols = options.protocols;
  impl_->spec.ports = options.ports;
  impl_->spec.host = options.host;
  impl_->spec.prefetch = options.prefetch;
  impl_->spec.max_docs_per_request = options.max_docs_per_request;
  impl_->spec.ssl_certfile = options.ssl_certfile;
  impl_->spec.ssl_keyfile = options.ssl_keyfile;
  impl_->spec.auth_token = options.auth_token;
  impl_->spec.reflection = options.reflection;
  impl_->internal_tls = {.certfile = options.internal_tls.certfile,
                         .keyfile = options.internal_tls.keyfile,
                         .cafile = options.internal_tls.cafile};
  impl_->spec.grpc_server_limits.max_receive_message_bytes = options.max_message_size;
  impl_->shoal_binary = options.shoal_binary;
  impl_->max_replicas = options.max_replicas;
}

Flow::Flow(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Flow::Flow(Flow&&) noexcept = default;
Flow& Flow::operator=(Flow&&) noexcept = default;
Flow::~Flow() {
  if (impl_ != nullptr) Stop();
}

StatusOr<Flow> Flow::FromYaml(const std::filesystem::path& file) {
  auto impl = std::make_unique<Impl>();
  SHOAL_ASSIGN_OR_RETURN(impl->spec, config::LoadFlowYaml(file));
  return Flow(std::move(impl));
}

Flow& Flow::Add(DeploymentOptions executor) {
  if (executor.name == "executor") {
    executor.name = absl::StrCat("executor", impl_->spec.executors.size());
  }
  StatusOr<config::DeploymentSpec> spec = orchestrator::ToDeploymentSpec(executor);
  if (!spec.ok()) {
    if (impl_->error.ok()) impl_->error = spec.status();
    return *this;
  }
  // The Flow's security settings, unless the Executor has its own.
  if (spec->auth_token.empty()) spec->auth_token = impl_->spec.auth_token;
  if (!spec->internal_tls.enabled()) spec->internal_tls = impl_->internal_tls;
  if (!impl_->spec.reflection) spec->reflection = false;
  if (spec->needs.empty()) spec->needs = {impl_->last};
  if (!spec->floating) impl_->last = spec->name;
  impl_->spec.executors.push_back(std::move(spec).value());
  return *this;
}

Flow& Flow::NeedsAll(std::string name) {
  std::set<std::string> needed;
  for (const config::DeploymentSpec& e : impl_->spec.executors) {
    needed.insert(e.needs.begin(), e.needs.end());
  }
  DeploymentOptions join;
  join.name = std::move(name);
  join.uses = "BaseExecutor";
  for (const config::DeploymentSpec& e : impl_->spec.executors) {
    if (!e.floating && needed.count(e.name) == 0) join.needs.push_back(e.name);
  }
  if (join.needs.empty()) join.needs = {config::kGatewayNode};
  return Add(std::move(join));
}

Status Flow::Start() {
  SHOAL_RETURN_IF_ERROR(impl_->error);
  if (impl_->running != nullptr) return absl::FailedPreconditionError("already started");
  orchestrator::LocalFlow::Options options;
  options.local.shoal_binary = impl_->shoal_binary;
  options.local.max_replicas = impl_->max_replicas;
  SHOAL_ASSIGN_OR_RETURN(impl_->running, orchestrator::LocalFlow::Start(impl_->spec, options));
  if (impl_->running->grpc_port() != 0) {
    ClientOptions client_options{.auth_token = impl_->spec.auth_token};
    if (!impl_->spec.ssl_certfile.empty()) {
      client_options.tls = true;
      client_options.ssl_cafile = impl_->spec.ssl_certfile;  // see DeploymentOptions
    }
    SHOAL_ASSIGN_OR_RETURN(
        Client client,
        Client::Connect(absl::StrCat("127.0.0.1:", impl_->running->grpc_port()), client_options));
    impl_->client.emplace(std::move(client));
  }
  return absl::OkStatus();
}

StatusOr<DocList> Flow::Post(std::string_view on, const DocList& inputs,
                             const PostOptions& options) {
  if (!impl_->client.has_value()) {
    return absl::FailedPreconditionError("the Flow is not started or serves no gRPC");
  }
  return impl_->client->Post(on, inputs, options);
}

void Flow::Stop() {
  impl_->client.reset();
  if (impl_->running != nullptr) impl_->running->Stop();
  impl_->running.reset();
}

StatusOr<std::string> Flow::ToKubernetesYaml(const KubernetesExportOptions& options) const {
  SHOAL_RETURN_IF_ERROR(impl_->error);
  SHOAL_ASSIGN_OR_RETURN(
      std::vector<exporter::Manifest> manifests,
      exporter::ToKubernetes(impl_->spec,
                             {.k8s_namespace = options.k8s_namespace, .image = options.image}));
  return exporter::JoinManifests(manifests);
}

int Flow::port() const { return impl_->running ? impl_->running->grpc_port() : 0; }
int Flow::http_port() const { return impl_->running ? impl_->running->http_port() : 0; }

Status Flow::Scale(const std::string& name, int replicas) {
  if (!impl_->running) return absl::FailedPreconditionError("Scale() needs a started Flow");
  orchestrator::LocalDeployment* deployment = impl_->running->deployment(name);
  if (deployment == nullptr) {
    return absl::NotFoundError(absl::StrCat("the Flow has no Executor '", name, "'"));
  }
  return deployment->Scale(replicas);
}

Status Flow::Update(const std::string& name, const DeploymentOptions& executor) {
  if (!impl_->running) return absl::FailedPreconditionError("Update() needs a started Flow");
  orchestrator::LocalDeployment* deployment = impl_->running->deployment(name);
  if (deployment == nullptr) {
    return absl::NotFoundError(absl::StrCat("the Flow has no Executor '", name, "'"));
  }
  SHOAL_ASSIGN_OR_RETURN(config::DeploymentSpec spec, orchestrator::ToDeploymentSpec(executor));
  // As Add() gave it: the Flow's security settings unless it has its own, and its place in the
  // graph unless it names one.
  if (spec.auth_token.empty()) spec.auth_token = impl_->spec.auth_token;
  if (!spec.internal_tls.enabled()) spec.internal_tls = impl_->internal_tls;
  if (!impl_->spec.reflection) spec.reflection = false;
  if (spec.needs.empty()) spec.needs = deployment->spec().needs;
  return deployment->Update(spec);
}

std::vector<std::vector<std::string>> Flow::replica_addresses(const std::string& name) const {
  if (!impl_->running) return {};
  orchestrator::LocalDeployment* deployment = impl_->running->deployment(name);
  return deployment != nullptr ? deployment->ReplicaAddresses()
                               : std::vector<std::vector<std::string>>();
}

}  // namespace shoal
