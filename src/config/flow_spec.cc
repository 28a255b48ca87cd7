// Validation of a FlowSpec, shared by the Flow YAML parser and the C++ API: the gateway settings,
// each Deployment, and the graph that `needs` draws (names, references, cycles).
#include "src/config/flow_spec.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/common/strings.h"

namespace shoal::config {
namespace {

constexpr int kMaxPort = 65535;

// "location: what: message", or "what: message" when the location is unknown.
Status Error(std::string_view location, std::string_view what, std::string_view message) {
  if (location.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: %s", what, message));
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", location, what, message));
}

std::string Lookup(const Origin& origin, std::string_view key) {
  auto it = origin.find(std::string(key));
  return it == origin.end() ? "" : it->second;
}

// The key the gateway setting was written under: `alias` ("protocols") when that was used.
std::string_view WrittenKey(const FlowSpec& spec, std::string_view key, std::string_view alias) {
  return spec.origin.contains(std::string(alias)) ? alias : key;
}

Status GatewayError(const FlowSpec& spec, std::string_view key, std::string_view message) {
  return Error(Lookup(spec.origin, key), key, message);
}

Status ValidateProtocols(const FlowSpec& spec) {
  const std::string_view key = WrittenKey(spec, "protocol", "protocols");
  if (spec.protocols.empty()) return GatewayError(spec, key, "give at least one (grpc or http)");
  std::set<std::string> seen;
  for (const std::string& protocol : spec.protocols) {
    const std::string lower = absl::AsciiStrToLower(AsAbsl(protocol));
    if (lower == "websocket") {
      return GatewayError(spec, key,
                          "'websocket' is not supported; the gateway serves grpc and http");
    }
    if (lower != "grpc" && lower != "http") {
      return GatewayError(spec, key,
                          absl::StrFormat("unknown protocol '%s' (expected grpc or http)%s",
                                          protocol, DidYouMean(lower, {"grpc", "http"})));
    }
    if (!seen.insert(lower).second) {
      return GatewayError(spec, key, absl::StrFormat("'%s' is given twice", lower));
    }
  }
  return absl::OkStatus();
}

Status ValidatePorts(const FlowSpec& spec) {
  const std::string_view key = WrittenKey(spec, "port", "ports");
  if (!spec.ports.empty() && spec.ports.size() != spec.protocols.size()) {
    return GatewayError(
        spec, key,
        absl::StrFormat("%d port(s) for %d protocol(s) (%s); give one port per protocol, in order",
                        spec.ports.size(), spec.protocols.size(),
                        absl::StrJoin(spec.protocols, ", ")));
  }
  std::set<int> seen;
  for (int port : spec.ports) {
    if (port < 0 || port > kMaxPort) {
      return GatewayError(
          spec, key,
          absl::StrFormat("must be between 1 and %d, or 0 for any free port (got %d)", kMaxPort,
                          port));
    }
    if (port != 0 && !seen.insert(port).second) {
      return GatewayError(spec, key, absl::StrFormat("port %d is given twice", port));
    }
  }
  return absl::OkStatus();
}

Status ValidateGateway(const FlowSpec& spec) {
  if (spec.name.empty()) return GatewayError(spec, "name", "must not be empty");
  if (spec.host.empty()) return GatewayError(spec, "host", "must not be empty");
  if (spec.prefetch < 0) {
    return GatewayError(spec, "prefetch",
                        absl::StrFormat("must be 0 (no limit) or more (got %d)", spec.prefetch));
  }
  if (spec.max_docs_per_request < 0) {
    return GatewayError(
        spec, "max_docs_per_request",
        absl::StrFormat("must be 0 (no limit) or more (got %d)", spec.max_docs_per_request));
  }
  if (spec.port_monitoring.has_value() &&
      (*spec.port_monitoring < 0 || *spec.port_monitoring > 65535)) {
    return GatewayError(spec, "port_monitoring",
                        absl::StrFormat("must be 0..65535 (got %d)", *spec.port_monitoring));
  }
  SHOAL_RETURN_IF_ERROR(ValidateProtocols(spec));
  return ValidatePorts(spec);
}

// Where executor `i` was written: its `name`, else the item itself; "" for the C++ API.
std::string NodeLocation(const FlowSpec& spec, size_t i) {
  std::string location = Lookup(spec.executors[i].origin, "name");
  if (location.empty()) location = Lookup(spec.origin, absl::StrFormat("executors[%d]", i));
  return location;
}

// "executors[1] 'idx'", the subject of an error about one node.
std::string NodeLabel(const FlowSpec& spec, size_t i) {
  return absl::StrFormat("executors[%d] '%s'", i, spec.executors[i].name);
}

// Checks names and each Deployment; fills `index` (name -> position).
Status ValidateNodes(const FlowSpec& spec, std::map<std::string, size_t>& index) {
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    const DeploymentSpec& node = spec.executors[i];
    const std::string what = absl::StrFormat("executors[%d]", i);
    if (node.name == kGatewayNode) {
      return Error(NodeLocation(spec, i), what,
                   "the name 'gateway' is reserved: `needs: gateway` names the gateway");
    }
    auto [it, inserted] = index.emplace(node.name, i);
    if (!inserted) {
      std::string first = NodeLocation(spec, it->second);
      if (first.empty()) first = absl::StrFormat("executors[%d]", it->second);
      return Error(NodeLocation(spec, i), what,
                   absl::StrFormat("name '%s' is used twice (first at %s)", node.name, first));
    }
    Status status = ValidateDeploymentSpec(node);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s", NodeLabel(spec, i), AsStd(status.message())));
    }
  }
  return absl::OkStatus();
}

// A Flow Executor's `port` is where its replica listens: it needs exactly one replica (Jina
// ignores it otherwise, which hid the mistake), and no two processes of the Flow may pin the
// same port.
Status ValidatePinnedPorts(const FlowSpec& spec) {
  std::map<int, std::string> taken;  // port -> who pinned it
  for (int port : spec.ports) {
    if (port != 0) taken.emplace(port, "the gateway");
  }
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    const DeploymentSpec& node = spec.executors[i];
    if (node.external || node.port.value_or(0) == 0) continue;
    const int port = *node.port;
    const std::string where = Lookup(node.origin, "port");
    const std::string what = NodeLabel(spec, i) + ": port";
    if (int64_t{node.replicas} * node.shards > 1) {
      return Error(where, what,
                   absl::StrFormat("%d is the port of the Executor's one replica, but it has %d "
                                   "replicas x %d shards, each listening on a port of its own: "
                                   "remove `port` or keep one replica",
                                   port, node.replicas, node.shards));
    }
    auto [it, inserted] = taken.emplace(port, NodeLabel(spec, i));
    if (!inserted) {
      return Error(where, what, absl::StrFormat("%d is also the port of %s", port, it->second));
    }
  }
  return absl::OkStatus();
}

Status ValidateNeeds(const FlowSpec& spec, const std::map<std::string, size_t>& index) {
  std::vector<std::string_view> candidates = {kGatewayNode};
  for (const DeploymentSpec& node : spec.executors) candidates.push_back(node.name);
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    const DeploymentSpec& node = spec.executors[i];
    const std::string location = Lookup(node.origin, "needs");
    const std::string what = NodeLabel(spec, i) + ": needs";
    if (node.needs.empty()) {
      return Error(location, what, "is empty; name the gateway or another Executor");
    }
    std::set<std::string_view> seen;
    for (const std::string& need : node.needs) {
      if (need == node.name) {
        return Error(location, what, absl::StrFormat("'%s' needs itself", need));
      }
      if (need != kGatewayNode && !index.contains(need)) {
        return Error(location, what,
                     absl::StrFormat("unknown node '%s'%s", need, DidYouMean(need, candidates)));
      }
      if (!seen.insert(need).second) {
        return Error(location, what, absl::StrFormat("'%s' is listed twice", need));
      }
    }
  }
  return absl::OkStatus();
}

// Depth-first search along `needs`; a node met again while still on the path closes a cycle.
class CycleFinder {
 public:
  CycleFinder(const FlowSpec& spec, const std::map<std::string, size_t>& index)
      : spec_(spec), index_(index), state_(spec.executors.size(), kUnvisited) {}

  // The nodes on a cycle, the first repeated at the end; empty when there is none.
  std::vector<size_t> Find() {
    for (size_t i = 0; i < spec_.executors.size(); ++i) {
      if (state_[i] == kUnvisited && Visit(i)) return cycle_;
    }
    return {};
  }

 private:
  enum State { kUnvisited, kOnPath, kDone };

  bool Visit(size_t i) {
    state_[i] = kOnPath;
    path_.push_back(i);
    for (const std::string& need : spec_.executors[i].needs) {
      auto it = index_.find(need);
      if (it == index_.end()) continue;  // the gateway
      const size_t next = it->second;
      if (state_[next] == kOnPath) {
        auto start = std::find(path_.begin(), path_.end(), next);
        cycle_.assign(start, path_.end());
        cycle_.push_back(next);
        return true;
      }
      if (state_[next] == kUnvisited && Visit(next)) return true;
    }
    path_.pop_back();
    state_[i] = kDone;
    return false;
  }

  const FlowSpec& spec_;
  const std::map<std::string, size_t>& index_;
  std::vector<State> state_;
  std::vector<size_t> path_;
  std::vector<size_t> cycle_;
};

Status ValidateAcyclic(const FlowSpec& spec, const std::map<std::string, size_t>& index) {
  std::vector<size_t> cycle = CycleFinder(spec, index).Find();
  if (cycle.empty()) return absl::OkStatus();
  std::vector<std::string> names;
  for (size_t i : cycle) names.push_back(spec.executors[i].name);
  return Error(Lookup(spec.executors[cycle[0]].origin, "needs"), NodeLabel(spec, cycle[0]),
               absl::StrFormat("needs form a cycle: %s", absl::StrJoin(names, " -> ")));
}

// ssl_certfile + ssl_keyfile: both or neither, readable PEM files.
Status ValidateGatewayTls(const FlowSpec& spec) {
  if (spec.ssl_certfile.empty() != spec.ssl_keyfile.empty()) {
    const bool has_cert = !spec.ssl_certfile.empty();
    return GatewayError(spec, has_cert ? "ssl_certfile" : "ssl_keyfile",
                        has_cert ? "is given without ssl_keyfile (TLS needs both)"
                                 : "is given without ssl_certfile (TLS needs both)");
  }
  if (spec.ssl_certfile.empty()) return absl::OkStatus();
  for (auto [key, path, kind] : {std::tuple<const char*, const std::string*, PemKind>{
                                     "ssl_certfile", &spec.ssl_certfile, PemKind::kCertificate},
                                 {"ssl_keyfile", &spec.ssl_keyfile, PemKind::kPrivateKey}}) {
    StatusOr<std::string> pem = ReadPemFile(*path, kind);
    if (!pem.ok()) return GatewayError(spec, key, std::string(pem.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace

Status ValidateFlowSpec(const FlowSpec& spec) {
  SHOAL_RETURN_IF_ERROR(ValidateGateway(spec));
  SHOAL_RETURN_IF_ERROR(ValidateGatewayTls(spec));
  std::map<std::string, size_t> index;
  SHOAL_RETURN_IF_ERROR(ValidateNodes(spec, index));
  SHOAL_RETURN_IF_ERROR(ValidatePinnedPorts(spec));
  SHOAL_RETURN_IF_ERROR(ValidateNeeds(spec, index));
  return ValidateAcyclic(spec, index);
}

std::optional<size_t> EndNode(const FlowSpec& spec) {
  for (size_t i = spec.executors.size(); i > 0; --i) {
    if (!spec.executors[i - 1].floating) return i - 1;
  }
  return std::nullopt;
}

}  // namespace shoal::config
