#include "src/config/spec_change.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"

namespace shoal::config {
namespace {

using google::protobuf::util::MessageDifferencer;

enum class Kind { kRefused, kRestart, kInPlace };

struct Key {
  const char* name;  // as written in YAML
  Kind kind;
  std::function<bool(const DeploymentSpec&, const DeploymentSpec&)> same;
};

// A key compared with ==.
template <typename T>
Key Plain(const char* name, Kind kind, T DeploymentSpec::*field) {
  return Key{name, kind, [field](const DeploymentSpec& a, const DeploymentSpec& b) {
               return a.*field == b.*field;
             }};
}

Key Proto(const char* name, Kind kind, google::protobuf::Struct DeploymentSpec::*field) {
  return Key{name, kind, [field](const DeploymentSpec& a, const DeploymentSpec& b) {
               return MessageDifferencer::Equals(a.*field, b.*field);
             }};
}

bool SamePolling(const DeploymentSpec& a, const DeploymentSpec& b) {
  return a.polling_default == b.polling_default && a.polling == b.polling;
}

const std::vector<Key>& Keys() {
  using S = DeploymentSpec;
  static const std::vector<Key>* keys = new std::vector<Key>{
      Plain("name", Kind::kRefused, &S::name),
      Plain("shards", Kind::kRefused, &S::shards),
      Plain("stateful", Kind::kRefused, &S::stateful),
      Plain("external", Kind::kRefused, &S::external),
      Plain("inprocess", Kind::kRefused, &S::inprocess),
      Plain("port", Kind::kRefused, &S::port),
      Plain("host", Kind::kRefused, &S::host),
      Plain("port", Kind::kRefused, &S::external_ports),
      Plain("host", Kind::kRefused, &S::shard_hosts),
      Plain("tls", Kind::kRefused, &S::tls),
      Plain("tls_ca_file", Kind::kRefused, &S::tls_ca_file),
      Plain("workspace", Kind::kRefused, &S::workspace),
      Plain("port_monitoring", Kind::kRefused, &S::port_monitoring),
      Plain("peer_ports", Kind::kRefused, &S::peer_ports),
      Plain("auth_token", Kind::kRefused, &S::auth_token),
      Plain("ssl_certfile", Kind::kRefused, &S::ssl_certfile),
      Plain("ssl_keyfile", Kind::kRefused, &S::ssl_keyfile),
      Plain("internal_tls", Kind::kRefused, &S::internal_tls),
      Plain("reflection", Kind::kRefused, &S::reflection),
      Plain("expose_internal_errors", Kind::kRefused, &S::expose_internal_errors),
      Plain("needs", Kind::kRefused, &S::needs),
      Plain("floating", Kind::kRefused, &S::floating),
      Plain("no_reduce", Kind::kRefused, &S::no_reduce),
      Plain("grpc_metadata", Kind::kRefused, &S::grpc_metadata),
      Plain("uses", Kind::kRestart, &S::uses),
      Proto("uses_with", Kind::kRestart, &S::uses_with),
      Proto("uses_metas", Kind::kRestart, &S::uses_metas),
      Key{"uses_dynamic_batching", Kind::kRestart,
          [](const S& a, const S& b) {
            return DynamicBatchingToJson(a.uses_dynamic_batching) ==
                   DynamicBatchingToJson(b.uses_dynamic_batching);
          }},
      Plain("env", Kind::kRestart, &S::env),
      Plain("gpus", Kind::kRestart, &S::gpus),
      Plain("max_queued_requests", Kind::kRestart, &S::max_queued_requests),
      Plain("max_docs_per_request", Kind::kRestart, &S::max_docs_per_request),
      Plain("grpc_server_options", Kind::kRestart, &S::grpc_server_limits),
      Proto("raft_configuration", Kind::kRestart, &S::raft_configuration),
      Plain("read_consistency", Kind::kRestart, &S::read_consistency),
      Plain("replicas", Kind::kInPlace, &S::replicas),
      Plain("timeout_send", Kind::kInPlace, &S::timeout_send_ms),
      Plain("timeout_ready", Kind::kInPlace, &S::timeout_ready_ms),
      Plain("retries", Kind::kInPlace, &S::retries),
      Key{"polling", Kind::kInPlace, &SamePolling},
      Plain("load_balancing", Kind::kInPlace, &S::load_balancing),
      Plain("autoscaling", Kind::kInPlace, &S::autoscaling),
  };
  return *keys;
}

void AddOnce(std::vector<std::string>& keys, const std::string& key) {
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
}

}  // namespace

bool SpecChange::InPlace(const std::string& key) const {
  return std::find(in_place.begin(), in_place.end(), key) != in_place.end();
}

StatusOr<SpecChange> DiffDeploymentSpecs(const DeploymentSpec& from, const DeploymentSpec& to) {
  SpecChange change;
  for (const Key& key : Keys()) {
    if (key.same(from, to)) continue;
    switch (key.kind) {
      case Kind::kRefused: {
        auto where = to.origin.find(key.name);
        return absl::InvalidArgumentError(absl::StrCat(
            where == to.origin.end() ? "" : where->second + ": ", "Deployment '", from.name, "': '",
            key.name,
            "' cannot change while the Deployment runs (stop it and start it again with the new "
            "value)"));
      }
      case Kind::kRestart:
        AddOnce(change.restart, key.name);
        break;
      case Kind::kInPlace:
        AddOnce(change.in_place, key.name);
        break;
    }
  }
  return change;
}

}  // namespace shoal::config
