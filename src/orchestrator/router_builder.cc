// BuildRouter and the external replicas' addresses: a Deployment spec as its router sees it.
#include "src/orchestrator/router_builder.h"

#include <fstream>
#include <iterator>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/log.h"
#include "src/routing/polling.h"
#include "src/routing/replica_set.h"

namespace shoal::orchestrator {
namespace {

// Checked before any call, not at the first grpcs:// one, so that the mistake names its key.
Status CheckCaFile(const config::DeploymentSpec& spec) {
  std::ifstream ca(spec.tls_ca_file);
  std::string pem((std::istreambuf_iterator<char>(ca)), std::istreambuf_iterator<char>());
  if (!ca) {
    return absl::InvalidArgumentError(absl::StrCat(WhereWritten(spec, "tls_ca_file"),
                                                   "Deployment '", spec.name, "': tls_ca_file '",
                                                   spec.tls_ca_file, "' cannot be read"));
  }
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(WhereWritten(spec, "tls_ca_file"),
                                                   "Deployment '", spec.name, "': tls_ca_file '",
                                                   spec.tls_ca_file, "' holds no PEM certificate"));
  }
  return absl::OkStatus();
}

routing::ReplicaSet::Options ReplicaSetOptions(const config::DeploymentSpec& spec, int shard) {
  return routing::ReplicaSet::Options{
      .name = spec.shards > 1 ? absl::StrCat(spec.name, "/shard-", shard) : spec.name,
      .tls_ca_file = spec.tls_ca_file.empty() ? spec.internal_tls.cafile : spec.tls_ca_file,
      .tls_certfile = spec.internal_tls.certfile,
      .tls_keyfile = spec.internal_tls.keyfile,
      .auth_token = spec.auth_token,
      .round_robin = spec.load_balancing == "round_robin",
      .expose_addresses = spec.expose_internal_errors};
}

StatusOr<routing::DeploymentRouter::Options> RouterOptions(const config::DeploymentSpec& spec) {
  std::map<std::string, routing::Polling> per_endpoint;
  for (const auto& [endpoint, text] : spec.polling) {
    SHOAL_ASSIGN_OR_RETURN(per_endpoint[endpoint], routing::ParsePolling(text));
  }
  SHOAL_ASSIGN_OR_RETURN(routing::Polling fallback, routing::ParsePolling(spec.polling_default));
  routing::DeploymentRouter::Options options{
      .name = spec.name,
      .polling = routing::PollingTable(fallback, per_endpoint),
      .retries = spec.retries,
  };
  if (spec.timeout_send_ms.has_value() && *spec.timeout_send_ms > 0) {
    options.timeout_send = std::chrono::milliseconds(*spec.timeout_send_ms);
  }
  return options;
}

}  // namespace

std::string WhereWritten(const config::DeploymentSpec& spec, const std::string& key) {
  auto it = spec.origin.find(key);
  return it == spec.origin.end() ? "" : it->second + ": ";
}

StatusOr<std::vector<std::vector<routing::Address>>> ExternalReplicas(
    const config::DeploymentSpec& spec) {
  if (!spec.tls_ca_file.empty()) SHOAL_RETURN_IF_ERROR(CheckCaFile(spec));
  // Each address is one replica (or, for dns:///, the replicas the name resolves to); one
  // shard, unless addresses are given per shard.
  std::vector<std::vector<routing::Address>> addresses(spec.shards);
  for (int s = 0; s < spec.shards; ++s) {
    SHOAL_ASSIGN_OR_RETURN(std::vector<config::ExternalAddress> external,
                           config::ResolveExternalAddresses(config::ExternalShard(spec, s)));
    const std::string shard = spec.shards > 1 ? absl::StrCat("/shard-", s) : std::string();
    for (const config::ExternalAddress& e : external) {
      std::string host = e.host;
      if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      addresses[s].push_back(routing::Address{
          .host = host,
          .port = e.port,
          .tls = e.tls || spec.internal_tls.enabled(),
          .dns = e.dns,
          .name = absl::StrCat(spec.name, shard, "/external-", addresses[s].size())});
    }
  }
  return addresses;
}

StatusOr<std::unique_ptr<routing::DeploymentRouter>> BuildRouter(
    const config::DeploymentSpec& spec,
    const std::vector<std::vector<routing::Address>>& replicas) {
  SHOAL_ASSIGN_OR_RETURN(routing::DeploymentRouter::Options options, RouterOptions(spec));
  std::vector<std::unique_ptr<routing::ReplicaSet>> shards;
  for (int s = 0; s < static_cast<int>(replicas.size()); ++s) {
    shards.push_back(
        std::make_unique<routing::ReplicaSet>(replicas[s], ReplicaSetOptions(spec, s)));
  }
  return std::make_unique<routing::DeploymentRouter>(std::move(options), std::move(shards));
}

Status ApplyRouterSettings(const config::DeploymentSpec& spec, routing::DeploymentRouter& router) {
  SHOAL_ASSIGN_OR_RETURN(routing::DeploymentRouter::Options options, RouterOptions(spec));
  router.SetPolling(std::move(options.polling));
  router.SetRetries(options.retries);
  router.SetTimeoutSend(options.timeout_send);
  for (size_t s = 0; s < router.num_shards(); ++s) {
    router.shard(s).SetRoundRobin(spec.load_balancing == "round_robin");
  }
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<metrics::Exposer>> StartDeploymentMetrics(
    const config::DeploymentSpec& spec, const std::string& host) {
  if (!spec.port_monitoring.has_value()) return std::unique_ptr<metrics::Exposer>();
  StatusOr<std::unique_ptr<metrics::Exposer>> exposer =
      metrics::StartExposer(host, *spec.port_monitoring);
  if (!exposer.ok()) {
    return absl::Status(exposer.status().code(),
                        absl::StrCat(WhereWritten(spec, "port_monitoring"), "Deployment '",
                                     spec.name, "': ", exposer.status().message()));
  }
  SHOAL_LOG_INFO("Deployment '%s': metrics on %s:%d", spec.name, host, (*exposer)->port());
  return exposer;
}

}  // namespace shoal::orchestrator
