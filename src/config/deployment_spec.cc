// Validation of a DeploymentSpec, shared by the YAML parser, the CLI and the C++ API: each rule is
// checked here once, and an error points back at the line of the YAML the value came from.
#include "src/config/deployment_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "src/common/strings.h"

namespace shoal::config {
namespace {

using google::protobuf::Value;

constexpr int kMaxPort = 65535;

// InvalidArgument "file:line:column: key: message". The location is the origin of `key`, or of
// the nearest enclosing key that has one ("peer_ports[1]" falls back to "peer_ports").
Status KeyError(const DeploymentSpec& spec, std::string_view key, std::string_view message) {
  std::string lookup(key);
  while (!lookup.empty()) {
    auto it = spec.origin.find(lookup);
    if (it != spec.origin.end() && !it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", it->second, key, message));
    }
    size_t cut = lookup.find_last_of(".[");
    lookup.resize(cut == std::string::npos ? 0 : cut);
  }
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", key, message));
}

Status ValidatePort(const DeploymentSpec& spec, std::string_view key, int port, bool allow_zero) {
  if ((port == 0 && allow_zero) || (port >= 1 && port <= kMaxPort)) return absl::OkStatus();
  return KeyError(spec, key,
                  absl::StrFormat("must be between 1 and %d%s (got %d)", kMaxPort,
                                  allow_zero ? ", or 0 for any free port" : "", port));
}

Status ValidatePollingValue(const DeploymentSpec& spec, std::string_view key,
                            std::string_view value) {
  std::string upper = absl::AsciiStrToUpper(AsAbsl(value));
  if (upper == "ANY" || upper == "ALL") return absl::OkStatus();
  if (upper == "ALL_ASYNC") return KeyError(spec, key, "ALL_ASYNC polling is not supported");
  return KeyError(spec, key, absl::StrFormat("expected ANY or ALL, got '%s'", value));
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

Status ValidateScalars(const DeploymentSpec& spec) {
  if (spec.name.empty() || !std::all_of(spec.name.begin(), spec.name.end(), IsNameChar)) {
    return KeyError(spec, "name",
                    absl::StrFormat("must be letters, digits, '_' or '-' (got '%s')", spec.name));
  }
  if (spec.uses.empty() && !spec.external) return KeyError(spec, "uses", "must not be empty");
  if (spec.replicas < 1) {
    return KeyError(spec, "replicas",
                    absl::StrFormat("must be at least 1 (got %d)", spec.replicas));
  }
  if (spec.shards < 1) {
    return KeyError(spec, "shards", absl::StrFormat("must be at least 1 (got %d)", spec.shards));
  }
  // The '*' entry of a polling map is the default; its own location is the better one.
  const std::string_view default_key = spec.origin.contains("polling.*") ? "polling.*" : "polling";
  SHOAL_RETURN_IF_ERROR(ValidatePollingValue(spec, default_key, spec.polling_default));
  for (const auto& [endpoint, value] : spec.polling) {
    if (endpoint.empty()) return KeyError(spec, "polling", "an endpoint name is empty");
    SHOAL_RETURN_IF_ERROR(ValidatePollingValue(spec, "polling." + endpoint, value));
  }
  if (spec.port) SHOAL_RETURN_IF_ERROR(ValidatePort(spec, "port", *spec.port, true));
  if (spec.port_monitoring) {
    SHOAL_RETURN_IF_ERROR(ValidatePort(spec, "port_monitoring", *spec.port_monitoring, true));
  }
  if (spec.timeout_ready_ms < -1) {
    return KeyError(spec, "timeout_ready",
                    absl::StrFormat("must be -1 (wait forever) or milliseconds >= 0 (got %d)",
                                    spec.timeout_ready_ms));
  }
  if (spec.timeout_send_ms && *spec.timeout_send_ms < 0) {
    return KeyError(spec, "timeout_send",
                    absl::StrFormat("must be milliseconds >= 0 (got %d)", *spec.timeout_send_ms));
  }
  if (spec.retries < -1) {
    return KeyError(spec, "retries",
                    absl::StrFormat("must be -1 (the default) or >= 0 (got %d)", spec.retries));
  }
  if (spec.max_queued_requests < 0) {
    return KeyError(
        spec, "max_queued_requests",
        absl::StrFormat("must be >= 0, 0 for no limit (got %d)", spec.max_queued_requests));
  }
  if (spec.max_docs_per_request && *spec.max_docs_per_request < 0) {
    return KeyError(
        spec, "max_docs_per_request",
        absl::StrFormat("must be >= 0, 0 for no limit (got %d)", *spec.max_docs_per_request));
  }
  return absl::OkStatus();
}

Status ValidateMaps(const DeploymentSpec& spec) {
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return KeyError(spec, "env." + name, "not a valid environment variable");
    }
  }
  for (const auto& [key, value] : spec.grpc_metadata) {
    // gRPC rejects header names outside [0-9a-z_.-]; catching them here beats a failed call.
    bool valid = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return absl::ascii_islower(static_cast<unsigned char>(c)) ||
             absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
    if (!valid) {
      return KeyError(spec, "grpc_metadata." + key,
                      "metadata keys must be lowercase letters, digits, '-', '_' or '.'");
    }
  }
  for (size_t i = 0; i < spec.needs.size(); ++i) {
    if (spec.needs[i].empty()) {
      return KeyError(spec, absl::StrFormat("needs[%d]", i), "must not be empty");
    }
  }
  return absl::OkStatus();
}

Status ValidateAddresses(const DeploymentSpec& spec) {
  if (!spec.external) {
    if (spec.host.size() > 1) {
      return KeyError(spec, "host",
                      absl::StrFormat("%d addresses given; several addresses need external: true",
                                      spec.host.size()));
    }
    if (!spec.external_ports.empty()) {
      return KeyError(spec, "port", "a list of ports needs external: true");
    }
    return absl::OkStatus();
  }
  if (!spec.shard_hosts.empty()) {
    if (static_cast<int>(spec.shard_hosts.size()) != spec.shards) {
      return KeyError(
          spec, "shards",
          absl::StrFormat("%d shards, but addresses for %d", spec.shards, spec.shard_hosts.size()));
    }
    for (int s = 0; s < spec.shards; ++s) {
      SHOAL_RETURN_IF_ERROR(ResolveExternalAddresses(ExternalShard(spec, s)).status());
    }
    if (spec.stateful) return KeyError(spec, "stateful", "cannot be combined with external: true");
    return absl::OkStatus();
  }
  SHOAL_ASSIGN_OR_RETURN(std::vector<ExternalAddress> addresses, ResolveExternalAddresses(spec));
  const int count = static_cast<int>(addresses.size());
  if (count > 1 && spec.replicas != 1 && spec.replicas != count) {
    return KeyError(spec, "replicas",
                    absl::StrFormat("the external Deployment has %d addresses; replicas must be 1 "
                                    "or %d (got %d)",
                                    count, count, spec.replicas));
  }
  if (spec.shards != 1) {
    return KeyError(spec, "shards",
                    absl::StrFormat("an external Deployment has one shard (got %d)", spec.shards));
  }
  if (spec.stateful) return KeyError(spec, "stateful", "cannot be combined with external: true");
  return absl::OkStatus();
}

Status ValidatePeerPorts(const DeploymentSpec& spec) {
  if (spec.peer_ports.empty()) return absl::OkStatus();
  if (static_cast<int>(spec.peer_ports.size()) != spec.shards) {
    return KeyError(spec, "peer_ports",
                    absl::StrFormat("needs one list per shard (shards: %d), got %d", spec.shards,
                                    spec.peer_ports.size()));
  }
  std::set<int> seen;
  for (size_t shard = 0; shard < spec.peer_ports.size(); ++shard) {
    const std::vector<int>& ports = spec.peer_ports[shard];
    std::string key = spec.shards == 1 ? "peer_ports" : absl::StrFormat("peer_ports[%d]", shard);
    if (static_cast<int>(ports.size()) != spec.replicas) {
      return KeyError(spec, key,
                      absl::StrFormat("needs one port per replica (replicas: %d), got %d",
                                      spec.replicas, ports.size()));
    }
    for (int port : ports) {
      SHOAL_RETURN_IF_ERROR(ValidatePort(spec, key, port, false));
      if (!seen.insert(port).second) {
        return KeyError(spec, key, absl::StrFormat("port %d is given more than once", port));
      }
    }
  }
  return absl::OkStatus();
}

enum class RaftType { kMillis, kCount, kSeconds, kBool, kLogLevel };

struct RaftKey {
  std::string_view name;
  RaftType type;
};

// The keyword arguments Jina's `jraft.run` accepts (reference §5.6), with their units.
constexpr RaftKey kRaftKeys[] = {
    {"HeartbeatTimeout", RaftType::kMillis}, {"ElectionTimeout", RaftType::kMillis},
    {"CommitTimeout", RaftType::kMillis},    {"MaxAppendEntries", RaftType::kCount},
    {"BatchApplyCh", RaftType::kBool},       {"ShutdownOnRemove", RaftType::kBool},
    {"TrailingLogs", RaftType::kCount},      {"SnapshotInterval", RaftType::kSeconds},
    {"SnapshotThreshold", RaftType::kCount}, {"LeaderLeaseTimeout", RaftType::kMillis},
    {"LogLevel", RaftType::kLogLevel},       {"NoSnapshotRestoreOnStart", RaftType::kBool},
};

constexpr std::string_view kRaftKeyList =
    "HeartbeatTimeout, ElectionTimeout, CommitTimeout, MaxAppendEntries, BatchApplyCh, "
    "ShutdownOnRemove, TrailingLogs, SnapshotInterval, SnapshotThreshold, LeaderLeaseTimeout, "
    "LogLevel, NoSnapshotRestoreOnStart";

// hashicorp/raft rejects MaxAppendEntries above this.
constexpr double kMaxAppendEntriesLimit = 1024;

constexpr std::string_view kLogLevels[] = {"TRACE",   "DEBUG", "INFO", "WARN",
                                           "WARNING", "ERROR", "OFF"};

RaftType RaftTypeOf(std::string_view canonical) {
  for (const RaftKey& key : kRaftKeys) {
    if (key.name == canonical) return key.type;
  }
  return RaftType::kCount;
}

std::string SnakeCase(std::string_view pascal) {
  std::string out;
  for (char c : pascal) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out.push_back('_');
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsWholeNumber(const Value& value) {
  return value.has_number_value() && std::isfinite(value.number_value()) &&
         value.number_value() >= 0 && value.number_value() <= 9007199254740992.0 &&
         std::trunc(value.number_value()) == value.number_value();
}

Status ValidateRaftValue(const DeploymentSpec& spec, const std::string& key,
                         std::string_view canonical, const Value& value) {
  const RaftType type = RaftTypeOf(canonical);
  switch (type) {
    case RaftType::kMillis:
    case RaftType::kSeconds:
    case RaftType::kCount: {
      const char* unit = type == RaftType::kMillis    ? "a whole number of milliseconds >= 0"
                         : type == RaftType::kSeconds ? "a whole number of seconds >= 0"
                                                      : "a whole number >= 0";
      if (!IsWholeNumber(value)) {
        return KeyError(spec, key,
                        absl::StrFormat("expected %s, got %s", unit, DescribeValue(value)));
      }
      if (canonical == "MaxAppendEntries") {
        if (value.number_value() < 1 || value.number_value() > kMaxAppendEntriesLimit) {
          return KeyError(
              spec, key,
              absl::StrFormat("must be between 1 and %d (got %s)",
                              static_cast<int>(kMaxAppendEntriesLimit), DescribeValue(value)));
        }
      }
      return absl::OkStatus();
    }
    case RaftType::kBool:
      if (value.has_bool_value()) return absl::OkStatus();
      return KeyError(spec, key,
                      absl::StrFormat("expected true or false, got %s", DescribeValue(value)));
    case RaftType::kLogLevel: {
      std::string upper = value.has_string_value()
                              ? absl::AsciiStrToUpper(AsAbsl(value.string_value()))
                              : std::string();
      for (std::string_view level : kLogLevels) {
        if (upper == level) return absl::OkStatus();
      }
      return KeyError(spec, key,
                      absl::StrFormat("expected one of TRACE, DEBUG, INFO, WARN, ERROR, OFF; "
                                      "got %s",
                                      DescribeValue(value)));
    }
  }
  return absl::OkStatus();
}

Status ValidateRaftConfiguration(const DeploymentSpec& spec) {
  std::map<std::string, std::string> canonical_to_written;
  std::vector<std::string_view> candidates;
  std::vector<std::string> snake_names;
  for (const RaftKey& key : kRaftKeys) snake_names.push_back(SnakeCase(key.name));
  for (const RaftKey& key : kRaftKeys) candidates.push_back(key.name);
  for (const std::string& name : snake_names) candidates.push_back(name);
  // Sorted, so that errors do not depend on the map's iteration order.
  std::map<std::string, const Value*> fields;
  for (const auto& [name, value] : spec.raft_configuration.fields()) fields[name] = &value;
  for (const auto& [name, value] : fields) {
    const std::string key = "raft_configuration." + name;
    std::optional<std::string> canonical = CanonicalRaftKey(name);
    if (!canonical) {
      return KeyError(spec, key,
                      absl::StrFormat("unknown key%s; expected one of %s, in PascalCase or "
                                      "snake_case",
                                      DidYouMean(name, candidates), kRaftKeyList));
    }
    auto [it, inserted] = canonical_to_written.emplace(*canonical, name);
    if (!inserted) {
      return KeyError(spec, key, absl::StrFormat("the same key as '%s'", it->second));
    }
    SHOAL_RETURN_IF_ERROR(ValidateRaftValue(spec, key, *canonical, *value));
  }
  return absl::OkStatus();
}

Status ValidateLoadBalancing(const DeploymentSpec& spec) {
  if (spec.load_balancing != "least_loaded" && spec.load_balancing != "round_robin") {
    return KeyError(
        spec, "load_balancing",
        absl::StrFormat("expected least_loaded or round_robin, got '%s'", spec.load_balancing));
  }
  return absl::OkStatus();
}

Status ValidateStateful(const DeploymentSpec& spec) {
  if (spec.read_consistency != "eventual" && spec.read_consistency != "linearizable") {
    return KeyError(
        spec, "read_consistency",
        absl::StrFormat("expected eventual or linearizable, got '%s'", spec.read_consistency));
  }
  SHOAL_RETURN_IF_ERROR(ValidateRaftConfiguration(spec));
  if (!spec.stateful) {
    if (spec.read_consistency == "linearizable") {
      return KeyError(spec, "read_consistency", "linearizable needs stateful: true");
    }
    return absl::OkStatus();
  }
  if (spec.workspace.empty()) {
    return KeyError(spec, "stateful", "stateful: true needs a workspace");
  }
  return ValidatePeerPorts(spec);
}

// Splits `[scheme://]host[:port]`; `port` stays nullopt when none is written.
struct ParsedAddress {
  std::string host;
  std::optional<int> port;
  bool tls = false;
  bool dns = false;
};

StatusOr<ParsedAddress> ParseAddress(const DeploymentSpec& spec, std::string_view text) {
  ParsedAddress out;
  std::string_view rest = text;
  if (size_t sep = rest.find("://"); sep != std::string_view::npos) {
    std::string scheme = absl::AsciiStrToLower(AsAbsl(rest.substr(0, sep)));
    if (scheme != "grpc" && scheme != "grpcs" && scheme != "dns") {
      return KeyError(spec, "host",
                      absl::StrFormat("unsupported scheme in '%s'; external Executors are reached "
                                      "over grpc://, grpcs:// or dns:///",
                                      text));
    }
    out.tls = scheme == "grpcs";
    out.dns = scheme == "dns";
    rest.remove_prefix(sep + 3);
    if (out.dns) {
      // dns:///name:port: the system resolver; dns://server/name:port is not supported.
      if (!rest.starts_with("/")) {
        return KeyError(spec, "host",
                        absl::StrFormat("'%s': write dns:///name:port (a DNS server in the "
                                        "address is not supported)",
                                        text));
      }
      rest.remove_prefix(1);
    }
  }
  std::optional<std::string_view> port_text;
  if (rest.starts_with("[")) {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return KeyError(spec, "host", absl::StrFormat("unterminated '[' in '%s'", text));
    }
    out.host = std::string(rest.substr(0, close + 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) {
      return KeyError(spec, "host", absl::StrFormat("unexpected text after ']' in '%s'", text));
    }
    if (!after.empty()) port_text = after.substr(1);
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  } else {
    out.host = std::string(rest);
  }
  const bool bracketed = out.host.starts_with("[");
  if (out.host.empty() || out.host.find_first_of(" /") != std::string::npos ||
      (!bracketed && out.host.find(':') != std::string::npos)) {
    return KeyError(spec, "host", absl::StrFormat("'%s' is not a valid address", text));
  }
  if (port_text) {
    int port = 0;
    if (!absl::SimpleAtoi(AsAbsl(*port_text), &port) || port < 1 || port > kMaxPort) {
      return KeyError(
          spec, "host",
          absl::StrFormat("'%s' has an invalid port; expected 1 to %d", text, kMaxPort));
    }
    out.port = port;
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute =
          diagonal + (absl::ascii_tolower(static_cast<unsigned char>(a[i - 1])) ==
                              absl::ascii_tolower(static_cast<unsigned char>(b[j - 1]))
                          ? 0
                          : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A PEM file given under `key`: readable and holding a block of `kind`.
Status ValidatePemKey(const DeploymentSpec& spec, std::string_view key, const std::string& path,
                      PemKind kind) {
  StatusOr<std::string> pem = ReadPemFile(path, kind);
  if (!pem.ok()) return KeyError(spec, key, std::string(pem.status().message()));
  return absl::OkStatus();
}

Status ValidateSecurity(const DeploymentSpec& spec) {
  if (spec.ssl_certfile.empty() != spec.ssl_keyfile.empty()) {
    const bool has_cert = !spec.ssl_certfile.empty();
    return KeyError(spec, has_cert ? "ssl_certfile" : "ssl_keyfile",
                    has_cert ? "is given without ssl_keyfile (TLS needs both)"
                             : "is given without ssl_certfile (TLS needs both)");
  }
  if (!spec.ssl_certfile.empty()) {
    SHOAL_RETURN_IF_ERROR(
        ValidatePemKey(spec, "ssl_certfile", spec.ssl_certfile, PemKind::kCertificate));
    SHOAL_RETURN_IF_ERROR(
        ValidatePemKey(spec, "ssl_keyfile", spec.ssl_keyfile, PemKind::kPrivateKey));
  }
  const TlsFiles& internal = spec.internal_tls;
  if (internal.enabled()) {
    for (auto [name, path] :
         {std::pair<const char*, const std::string*>{"certfile", &internal.certfile},
          {"keyfile", &internal.keyfile},
          {"cafile", &internal.cafile}}) {
      if (path->empty()) {
        return KeyError(spec, absl::StrCat("internal_tls.", name),
                        "is missing: internal_tls needs certfile, keyfile and cafile (mTLS)");
      }
    }
    SHOAL_RETURN_IF_ERROR(
        ValidatePemKey(spec, "internal_tls.certfile", internal.certfile, PemKind::kCertificate));
    SHOAL_RETURN_IF_ERROR(
        ValidatePemKey(spec, "internal_tls.keyfile", internal.keyfile, PemKind::kPrivateKey));
    SHOAL_RETURN_IF_ERROR(
        ValidatePemKey(spec, "internal_tls.cafile", internal.cafile, PemKind::kCertificate));
  }
  return absl::OkStatus();
}

// inprocess: true takes local stateless replicas that need nothing of their own process.
Status ValidateInProcess(const DeploymentSpec& spec) {
  if (!spec.inprocess) return absl::OkStatus();
  if (spec.external) {
    return KeyError(spec, "inprocess", "cannot be combined with external: true");
  }
  if (spec.stateful) {
    return KeyError(spec, "inprocess",
                    "cannot be combined with stateful: true (a Raft member is a process)");
  }
  if (!spec.env.empty()) {
    return KeyError(spec, "inprocess",
                    "cannot be combined with env: replicas inside one process share its "
                    "environment");
  }
  if (spec.autoscaling.has_value()) {
    return KeyError(spec, "inprocess",
                    "cannot be combined with autoscaling: replicas inside the process are fixed");
  }
  return absl::OkStatus();
}

}  // namespace

std::map<std::string, std::string> ReplicaEnvDefaults(const std::map<std::string, std::string>& env,
                                                      bool inherited) {
  auto set = [&](const char* name) {
    return env.contains(name) || (inherited && std::getenv(name) != nullptr);
  };
  std::map<std::string, std::string> added;
  if (!set("OPENBLAS_NUM_THREADS") && !set("GOTO_NUM_THREADS") && !set("OMP_NUM_THREADS")) {
    added["OPENBLAS_NUM_THREADS"] = "1";
  }
  if (!set("GOMAXPROCS")) added["GOMAXPROCS"] = "1";
  return added;
}

std::vector<std::string> ReplicaLimitFlags(const DeploymentSpec& spec) {
  std::vector<std::string> flags;
  auto add = [&](const char* flag, const std::optional<int>& value) {
    if (value.has_value()) flags.insert(flags.end(), {flag, std::to_string(*value)});
  };
  add("--max-docs-per-request", spec.max_docs_per_request);
  add("--max-message-size", spec.grpc_server_limits.max_receive_message_bytes);
  add("--max-send-message-size", spec.grpc_server_limits.max_send_message_bytes);
  if (!spec.uses_dynamic_batching.empty()) {
    flags.insert(flags.end(),
                 {"--uses-dynamic-batching", DynamicBatchingToJson(spec.uses_dynamic_batching)});
  }
  return flags;
}

Status ValidateDeploymentSpec(const DeploymentSpec& spec) {
  SHOAL_RETURN_IF_ERROR(ValidateScalars(spec));
  SHOAL_RETURN_IF_ERROR(ValidateInProcess(spec));
  SHOAL_RETURN_IF_ERROR(ValidateSecurity(spec));
  SHOAL_RETURN_IF_ERROR(ValidateMaps(spec));
  SHOAL_RETURN_IF_ERROR(ValidateAddresses(spec));
  SHOAL_RETURN_IF_ERROR(ValidateLoadBalancing(spec));
  SHOAL_RETURN_IF_ERROR(ValidateAutoscaling(spec));
  return ValidateStateful(spec);
}

Status CheckReplicaLimit(const DeploymentSpec& spec, int max_replicas) {
  if (spec.external) return absl::OkStatus();
  const int64_t processes = int64_t{PeakReplicas(spec)} * spec.shards;
  if (processes <= max_replicas) return absl::OkStatus();
  if (spec.autoscaling && spec.autoscaling->max_replicas > spec.replicas) {
    return KeyError(spec, "autoscaling.max_replicas",
                    absl::StrFormat("Deployment '%s': %d replicas x %d shards = %d replica "
                                    "processes at the most, more than max_replicas (%d per "
                                    "Deployment; --max-replicas raises it)",
                                    spec.name, spec.autoscaling->max_replicas, spec.shards,
                                    processes, max_replicas));
  }
  // The key to point at: the one that alone passes the limit, else the larger factor.
  const bool shards =
      spec.shards > max_replicas || (spec.replicas <= max_replicas && spec.shards > spec.replicas);
  return KeyError(spec, shards ? "shards" : "replicas",
                  absl::StrFormat("Deployment '%s': %d replicas x %d shards = %d replica "
                                  "processes, more than max_replicas (%d per Deployment; "
                                  "--max-replicas raises it)",
                                  spec.name, spec.replicas, spec.shards, processes, max_replicas));
}

DeploymentSpec ExternalShard(const DeploymentSpec& spec, int shard) {
  DeploymentSpec one = spec;
  if (shard < static_cast<int>(spec.shard_hosts.size())) {
    one.host = spec.shard_hosts[shard];
    one.shard_hosts.clear();
    one.shards = 1;
  }
  return one;
}

StatusOr<std::vector<ExternalAddress>> ResolveExternalAddresses(const DeploymentSpec& spec) {
  const std::vector<std::string>& hosts = spec.host;
  std::vector<int> ports = spec.external_ports;
  if (ports.empty() && spec.port) ports.push_back(*spec.port);
  if (hosts.empty()) {
    return KeyError(spec, "host", "external: true needs at least one address in host");
  }
  const size_t n = hosts.size();
  const size_t m = ports.size();
  if (m > 0 && n != m && n != 1 && m != 1) {
    return KeyError(
        spec, "host",
        absl::StrFormat("number of hosts (%d) does not match the number of ports (%d)", n, m));
  }
  const size_t count = std::max(n, m);
  std::vector<ExternalAddress> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::string& text = hosts[n == 1 ? 0 : i];
    SHOAL_ASSIGN_OR_RETURN(ParsedAddress parsed, ParseAddress(spec, text));
    std::optional<int> port = parsed.port;
    if (!port && m > 0) port = ports[m == 1 ? 0 : i];
    if (!port) {
      return KeyError(spec, "host",
                      absl::StrFormat("external address '%s' has no port; write '%s:PORT' or "
                                      "give port",
                                      text, text));
    }
    SHOAL_RETURN_IF_ERROR(ValidatePort(spec, "port", *port, false));
    out.push_back(
        {.host = parsed.host, .port = *port, .tls = parsed.tls || spec.tls, .dns = parsed.dns});
  }
  return out;
}

std::optional<std::string> CanonicalRaftKey(std::string_view key) {
  std::string canonical;
  if (key.find('_') == std::string_view::npos) {
    canonical = std::string(key);
  } else {
    // Python's str.capitalize() on each word: first letter upper, the rest lower.
    bool word_start = true;
    for (char c : key) {
      if (c == '_') {
        word_start = true;
        continue;
      }
      canonical.push_back(word_start ? absl::ascii_toupper(static_cast<unsigned char>(c))
                                     : absl::ascii_tolower(static_cast<unsigned char>(c)));
      word_start = false;
    }
  }
  for (const RaftKey& known : kRaftKeys) {
    if (known.name == canonical) return canonical;
  }
  return std::nullopt;
}

StatusOr<google::protobuf::Struct> CanonicalRaftConfiguration(
    const google::protobuf::Struct& config) {
  // Sorted, so that the key an error names does not depend on the map's iteration order.
  std::map<std::string, const Value*> sorted;
  for (const auto& [name, value] : config.fields()) sorted[name] = &value;
  google::protobuf::Struct out;
  std::map<std::string, std::string> canonical_to_written;
  for (const auto& [name, value] : sorted) {
    std::optional<std::string> canonical = CanonicalRaftKey(name);
    if (!canonical) {
      return absl::InvalidArgumentError(
          absl::StrFormat("raft_configuration: unknown key '%s'; expected one of %s, in "
                          "PascalCase or snake_case",
                          name, kRaftKeyList));
    }
    auto [it, inserted] = canonical_to_written.emplace(*canonical, name);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrFormat("raft_configuration: '%s' and '%s' are the same key", it->second, name));
    }
    (*out.mutable_fields())[*canonical] = *value;
  }
  return out;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates) {
  size_t best = 3;
  std::string_view best_candidate;
  for (std::string_view candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    if (distance < best) {
      best = distance;
      best_candidate = candidate;
    }
  }
  if (best_candidate.empty()) return "";
  return absl::StrFormat(" (did you mean '%s'?)", best_candidate);
}

std::string DescribeValue(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case Value::kStringValue:
      return absl::StrFormat("'%s'", value.string_value());
    case Value::kNumberValue: {
      double number = value.number_value();
      if (std::trunc(number) == number && std::fabs(number) < 1e15) {
        return absl::StrFormat("%d", static_cast<int64_t>(number));
      }
      return absl::StrFormat("%g", number);
    }
    case Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case Value::kListValue:
      return "a list";
    case Value::kStructValue:
      return "a map";
    case Value::kNullValue:
    case Value::KIND_NOT_SET:
      break;
  }
  return "null";
}

}  // namespace shoal::config
