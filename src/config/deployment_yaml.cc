// Deployment YAML parsing: the two layouts are flattened into one list of (key, value) entries,
// each entry is read by the handler for its key, and the spec is validated at the end. Every
// value goes through YamlToValue first, so `${{ ENV.VAR }}` works in all of them.
#include "src/config/deployment_yaml.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "shoal/status.h"
#include "src/common/strings.h"
#include "src/config/deployment_yaml_internal.h"
#include "src/config/uses.h"
#include "src/config/yaml_value.h"

namespace shoal::config {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Keys that fill the spec. `read_consistency`, `load_balancing`, `tls_ca_file`,
// `max_queued_requests` and `autoscaling` (Ray Serve's names), `auth_token`, `internal_tls` and
// `reflection` are Shoal's own.
// clang-format off
constexpr std::string_view kSupportedKeys[] = {
    "name", "uses", "uses_with", "uses_metas", "replicas", "shards", "polling", "port", "host",
    "external", "tls", "tls_ca_file", "env", "timeout_ready", "timeout_send", "retries",
    "workspace", "port_monitoring", "stateful", "peer_ports", "raft_configuration",
    "read_consistency", "load_balancing", "needs", "floating", "no_reduce", "grpc_metadata",
    "gpus", "max_queued_requests", "max_docs_per_request", "grpc_server_options",
    "expose_internal_errors", "auth_token", "ssl_certfile", "ssl_keyfile", "internal_tls",
    "reflection", "uses_dynamic_batching", "autoscaling", "inprocess",
};

// Jina Deployment arguments (reference §8.2) that have no effect in Shoal.
constexpr std::string_view kIgnoredKeys[] = {
    "allow_concurrent", "compression", "connection_list", "cors", "description",
    "disable_auto_volume", "docker_kwargs", "entrypoint", "env_from_secret", "exit_on_exceptions",
    "force_update", "grpc_channel_options", "image_pull_secrets",
    "install_requirements", "log_config", "metrics", "metrics_exporter_host",
    "metrics_exporter_port", "monitoring", "native", "output_array_type", "prefer_platform",
    "protocol", "provider", "provider_endpoint", "py_modules", "quiet", "quiet_error", "reload",
    "runtime_cls", "timeout_ctrl", "title", "traces_exporter_host",
    "traces_exporter_port", "tracing", "uses_after", "uses_after_address", "uses_before",
    "uses_before_address", "uses_requests", "uvicorn_kwargs", "volumes",
    "when",
};
// clang-format on

// One key of the Deployment, from either layout.
struct Entry {
  YAML::Node key;
  YAML::Node value;
};

// What every handler needs: where errors point and the spec being filled.
struct Context {
  std::string_view filename;
  DeploymentSpec& spec;
};

// A scalar as Python's str() writes it, for env values and gRPC metadata.
absl::StatusOr<std::string> Stringify(const Value& value, std::string_view location,
                                      std::string_view key) {
  switch (value.kind_case()) {
    case Value::kStringValue:
      return value.string_value();
    case Value::kNumberValue:
      return DescribeValue(value);
    case Value::kBoolValue:
      return std::string(value.bool_value() ? "True" : "False");
    case Value::kNullValue:
      return std::string();
    default:
      return KeyError(location, key,
                      absl::StrFormat("expected a scalar value, got %s", DescribeValue(value)));
  }
}

// Converts a YAML map entry by entry, calling `fn(name, value, location)` for each.
template <typename Fn>
absl::Status ForEachMapEntry(const Context& ctx, const YAML::Node& node, const std::string& key,
                             Fn fn) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return KeyError(YamlLocation(ctx.filename, MarkOf(node)), key, "expected a map");
  }
  for (const auto& item : node) {
    if (!item.first.IsScalar()) {
      return KeyError(YamlLocation(ctx.filename, MarkOf(item.first)), key, "keys must be strings");
    }
    const std::string child = ChildKey(key, item.first.Scalar());
    SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(item.second, ctx.filename, child));
    SHOAL_RETURN_IF_ERROR(
        fn(item.first.Scalar(), value, EntryLocation(ctx.filename, item.first, item.second)));
  }
  return absl::OkStatus();
}

// `env` and `grpc_metadata`: a map of scalars, each value stringified.
absl::Status ReadStringMap(const Context& ctx, const Entry& entry, const std::string& key,
                           std::map<std::string, std::string>& out) {
  return ForEachMapEntry(
      ctx, entry.value, key,
      [&](const std::string& name, const Value& value, const std::string& location) -> Status {
        const std::string child = ChildKey(key, name);
        SHOAL_ASSIGN_OR_RETURN(out[name], Stringify(value, location, child));
        ctx.spec.origin[child] = location;
        return absl::OkStatus();
      });
}

// A polling value: ANY/ALL as written, or Jina's enum numbers 1/2 (3 is ALL_ASYNC).
absl::StatusOr<std::string> PollingValue(const Value& value, std::string_view location,
                                         std::string_view key) {
  if (value.has_number_value() && std::trunc(value.number_value()) == value.number_value() &&
      std::fabs(value.number_value()) < 10) {
    switch (static_cast<int>(value.number_value())) {
      case 1:
        return std::string("ANY");
      case 2:
        return std::string("ALL");
      case 3:
        return std::string("ALL_ASYNC");
    }
  }
  if (value.has_string_value()) return value.string_value();
  return KeyError(location, key,
                  absl::StrFormat("expected ANY or ALL (or 1, 2), got %s", DescribeValue(value)));
}

absl::Status ReadPollingMap(const Context& ctx, const YAML::Node& node) {
  return ForEachMapEntry(
      ctx, node, "polling",
      [&](const std::string& endpoint, const Value& value, const std::string& location) -> Status {
        const std::string child = ChildKey("polling", endpoint);
        SHOAL_ASSIGN_OR_RETURN(std::string polling, PollingValue(value, location, child));
        ctx.spec.origin[child] = location;
        if (endpoint == "*") {
          ctx.spec.polling_default = std::move(polling);
        } else {
          ctx.spec.polling[endpoint] = std::move(polling);
        }
        return absl::OkStatus();
      });
}

// `polling`: "ANY", 2, {'*': ANY, /search: ALL}, or that map as a JSON string (the CLI form).
absl::Status ReadPolling(const Context& ctx, const Entry& entry, const Value& value,
                         const std::string& location) {
  if (value.has_struct_value()) return ReadPollingMap(ctx, entry.value);
  if (value.has_string_value() && value.string_value().starts_with("{")) {
    SHOAL_ASSIGN_OR_RETURN(YAML::Node inner, ParseYaml(value.string_value(), location));
    return ReadPollingMap(ctx, inner);
  }
  SHOAL_ASSIGN_OR_RETURN(ctx.spec.polling_default, PollingValue(value, location, "polling"));
  return absl::OkStatus();
}

// `port`: one port, a list, or a comma-separated string (the CLI form). One port goes to
// `spec.port`, several to `spec.external_ports`.
absl::Status ReadPort(const Context& ctx, const Value& value, const std::string& location) {
  if (value.has_null_value()) return absl::OkStatus();
  std::vector<Value> items;
  if (value.has_list_value()) {
    items.assign(value.list_value().values().begin(), value.list_value().values().end());
  } else {
    items.push_back(value);
  }
  std::vector<int> ports;
  for (const Value& item : items) {
    if (item.has_string_value() && item.string_value().find(',') != std::string::npos) {
      SHOAL_ASSIGN_OR_RETURN(std::vector<std::string> parts,
                             ValueToStringList(item, location, "port", {.split_commas = true}));
      for (const std::string& part : parts) {
        Value text;
        text.set_string_value(part);
        SHOAL_ASSIGN_OR_RETURN(ports.emplace_back(), ValueToInt(text, location, "port"));
      }
      continue;
    }
    SHOAL_ASSIGN_OR_RETURN(ports.emplace_back(), ValueToInt(item, location, "port"));
  }
  if (ports.size() == 1) {
    ctx.spec.port = ports[0];
  } else {
    ctx.spec.external_ports = std::move(ports);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> ToPortList(const Value& value, std::string_view location,
                                            std::string_view key) {
  if (!value.has_list_value()) {
    return KeyError(location, key,
                    absl::StrFormat("expected a list of ports, got %s", DescribeValue(value)));
  }
  std::vector<int> ports;
  for (const Value& item : value.list_value().values()) {
    SHOAL_ASSIGN_OR_RETURN(ports.emplace_back(), ValueToInt(item, location, key));
  }
  return ports;
}

// `peer_ports`: [p, ...] (one shard), [[p, ...], ...], {shard: [p, ...]}, or JSON of either.
absl::Status ReadPeerPorts(const Context& ctx, const Value& value, const std::string& location) {
  std::vector<std::vector<int>>& out = ctx.spec.peer_ports;
  out.clear();
  if (value.has_null_value()) return absl::OkStatus();
  if (value.has_string_value()) {
    SHOAL_ASSIGN_OR_RETURN(YAML::Node inner, ParseYaml(value.string_value(), location));
    SHOAL_ASSIGN_OR_RETURN(Value parsed, YamlToValue(inner, location, "peer_ports"));
    if (parsed.has_string_value()) {
      return KeyError(
          location, "peer_ports",
          absl::StrFormat("expected a list or a map of ports, got %s", DescribeValue(value)));
    }
    return ReadPeerPorts(ctx, parsed, location);
  }
  if (value.has_struct_value()) {
    std::map<int, std::vector<int>> by_shard;
    for (const auto& [shard_text, ports] : value.struct_value().fields()) {
      const std::string key = ChildKey("peer_ports", shard_text);
      int shard = -1;
      if (!absl::SimpleAtoi(AsAbsl(shard_text), &shard) || shard < 0) {
        return KeyError(location, key, "shard ids must be integers from 0");
      }
      SHOAL_ASSIGN_OR_RETURN(by_shard[shard], ToPortList(ports, location, key));
    }
    for (auto& [shard, ports] : by_shard) {
      if (shard != static_cast<int>(out.size())) {
        return KeyError(location, "peer_ports",
                        absl::StrFormat("shard %d has no ports; shard ids must be 0 to N-1",
                                        static_cast<int>(out.size())));
      }
      out.push_back(std::move(ports));
    }
    return absl::OkStatus();
  }
  if (!value.has_list_value()) {
    return KeyError(
        location, "peer_ports",
        absl::StrFormat("expected a list or a map of ports, got %s", DescribeValue(value)));
  }
  const auto& items = value.list_value().values();
  if (!items.empty() && items[0].has_list_value()) {
    for (int i = 0; i < static_cast<int>(items.size()); ++i) {
      SHOAL_ASSIGN_OR_RETURN(out.emplace_back(),
                             ToPortList(items[i], location, ItemKey("peer_ports", i)));
    }
    return absl::OkStatus();
  }
  SHOAL_ASSIGN_OR_RETURN(out.emplace_back(), ToPortList(value, location, "peer_ports"));
  return absl::OkStatus();
}

absl::Status ReadStructWithOrigins(const Context& ctx, const Entry& entry, const std::string& key,
                                   Struct& out) {
  SHOAL_ASSIGN_OR_RETURN(out, YamlToStruct(entry.value, ctx.filename, key));
  if (!entry.value.IsMap()) return absl::OkStatus();
  for (const auto& item : entry.value) {
    ctx.spec.origin[ChildKey(key, item.first.Scalar())] =
        EntryLocation(ctx.filename, item.first, item.second);
  }
  return absl::OkStatus();
}

void Warn(const Context& ctx, const Entry& entry, std::string_view message) {
  ctx.spec.warnings.push_back(
      absl::StrFormat("%s: %s", YamlLocation(ctx.filename, MarkOf(entry.key)), message));
}

absl::Status ReadIgnoredKey(const Context& ctx, const Entry& entry, const std::string& key,
                            const Value& value) {
  if (key == "protocol") {
    // Shoal serves gRPC, so the default (and only) protocol needs no warning.
    std::vector<std::string> protocols;
    if (value.has_string_value() || value.has_list_value()) {
      auto list = ValueToStringList(value, "", key, {.split_commas = true});
      if (list.ok()) protocols = *std::move(list);
    }
    if (protocols.size() == 1 && absl::AsciiStrToLower(protocols[0]) == "grpc") {
      return absl::OkStatus();
    }
    Warn(ctx, entry, "'protocol' is ignored: Shoal serves gRPC only");
    return absl::OkStatus();
  }
  Warn(ctx, entry, absl::StrFormat("'%s' is not supported by Shoal and is ignored", key));
  return absl::OkStatus();
}

// `uses_metas`: kept for the executor loader; `workspace` fills the Deployment's workspace when
// that is not given, as Jina's metas do.
absl::Status ReadUsesMetas(const Context& ctx, const Entry& entry) {
  SHOAL_RETURN_IF_ERROR(ReadStructWithOrigins(ctx, entry, "uses_metas", ctx.spec.uses_metas));
  for (const auto& [name, value] : ctx.spec.uses_metas.fields()) {
    const std::string key = ChildKey("uses_metas", name);
    if (name == "name" || name == "workspace") {
      SHOAL_RETURN_IF_ERROR(ValueToString(value, ctx.spec.origin[key], key).status());
    } else if (name != "description") {
      ctx.spec.warnings.push_back(absl::StrFormat(
          "%s: '%s' is not supported by Shoal and is ignored", ctx.spec.origin[key], key));
    }
  }
  return absl::OkStatus();
}

// `internal_tls: {certfile, keyfile, cafile}` (paths; ValidateDeploymentSpec checks the files).
absl::Status ReadInternalTls(const Context& ctx, const Entry& entry) {
  Struct fields;
  // Not a map: an error naming the key and where.
  SHOAL_RETURN_IF_ERROR(ReadStructWithOrigins(ctx, entry, "internal_tls", fields));
  TlsFiles& tls = ctx.spec.internal_tls;
  for (const auto& [name, value] : fields.fields()) {
    const std::string key = ChildKey("internal_tls", name);
    std::string* target = name == "certfile"  ? &tls.certfile
                          : name == "keyfile" ? &tls.keyfile
                          : name == "cafile"  ? &tls.cafile
                                              : nullptr;
    if (target == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: %s: unknown key; internal_tls takes certfile, keyfile and cafile%s",
          ctx.spec.origin[key], key, DidYouMean(name, {"certfile", "keyfile", "cafile"})));
    }
    SHOAL_ASSIGN_OR_RETURN(*target, ValueToString(value, ctx.spec.origin[key], key));
  }
  return absl::OkStatus();
}

// `autoscaling: {min_replicas, max_replicas, ...}`; null: none.
absl::Status ReadAutoscaling(const Context& ctx, const Entry& entry) {
  ctx.spec.autoscaling.reset();
  if (entry.value.IsNull()) return absl::OkStatus();
  Struct fields;
  SHOAL_RETURN_IF_ERROR(ReadStructWithOrigins(ctx, entry, "autoscaling", fields));
  SHOAL_ASSIGN_OR_RETURN(ctx.spec.autoscaling, ParseAutoscaling(fields, ctx.spec.origin));
  return absl::OkStatus();
}

absl::Status ReadScalarKey(const Context& ctx, const std::string& key, const Value& value,
                           const std::string& location) {
  DeploymentSpec& spec = ctx.spec;
  if (key == "name") {
    SHOAL_ASSIGN_OR_RETURN(spec.name, ValueToString(value, location, key));
  } else if (key == "uses") {
    SHOAL_ASSIGN_OR_RETURN(spec.uses, ValueToString(value, location, key));
    spec.uses = ResolveUsesNextTo(spec.uses, std::filesystem::path(ctx.filename).parent_path());
  } else if (key == "replicas") {
    SHOAL_ASSIGN_OR_RETURN(spec.replicas, ValueToInt(value, location, key));
  } else if (key == "shards") {
    SHOAL_ASSIGN_OR_RETURN(spec.shards, ValueToInt(value, location, key));
  } else if (key == "external") {
    SHOAL_ASSIGN_OR_RETURN(spec.external, ValueToBool(value, location, key));
  } else if (key == "inprocess") {
    SHOAL_ASSIGN_OR_RETURN(spec.inprocess, ValueToBool(value, location, key));
  } else if (key == "tls") {
    SHOAL_ASSIGN_OR_RETURN(spec.tls, ValueToBool(value, location, key));
  } else if (key == "tls_ca_file") {
    SHOAL_ASSIGN_OR_RETURN(spec.tls_ca_file, ValueToString(value, location, key));
  } else if (key == "auth_token") {
    SHOAL_ASSIGN_OR_RETURN(spec.auth_token, ValueToString(value, location, key));
  } else if (key == "ssl_certfile") {
    SHOAL_ASSIGN_OR_RETURN(spec.ssl_certfile, ValueToString(value, location, key));
  } else if (key == "ssl_keyfile") {
    SHOAL_ASSIGN_OR_RETURN(spec.ssl_keyfile, ValueToString(value, location, key));
  } else if (key == "reflection") {
    SHOAL_ASSIGN_OR_RETURN(spec.reflection, ValueToBool(value, location, key));
  } else if (key == "timeout_ready") {
    SHOAL_ASSIGN_OR_RETURN(spec.timeout_ready_ms, ValueToInt(value, location, key));
  } else if (key == "timeout_send") {
    spec.timeout_send_ms.reset();
    if (!value.has_null_value()) {
      SHOAL_ASSIGN_OR_RETURN(spec.timeout_send_ms, ValueToInt(value, location, key));
    }
  } else if (key == "retries") {
    SHOAL_ASSIGN_OR_RETURN(spec.retries, ValueToInt(value, location, key));
  } else if (key == "max_queued_requests") {
    SHOAL_ASSIGN_OR_RETURN(spec.max_queued_requests, ValueToInt(value, location, key));
  } else if (key == "expose_internal_errors") {
    SHOAL_ASSIGN_OR_RETURN(spec.expose_internal_errors, ValueToBool(value, location, key));
  } else if (key == "max_docs_per_request") {
    SHOAL_ASSIGN_OR_RETURN(spec.max_docs_per_request, ValueToInt(value, location, key));
  } else if (key == "grpc_server_options") {
    SHOAL_ASSIGN_OR_RETURN(spec.grpc_server_limits, ReadGrpcServerOptions(value, location, key));
  } else if (key == "workspace") {
    SHOAL_ASSIGN_OR_RETURN(spec.workspace, ValueToString(value, location, key));
  } else if (key == "port_monitoring") {
    spec.port_monitoring.reset();
    if (!value.has_null_value()) {
      SHOAL_ASSIGN_OR_RETURN(spec.port_monitoring, ValueToInt(value, location, key));
    }
  } else if (key == "stateful") {
    SHOAL_ASSIGN_OR_RETURN(spec.stateful, ValueToBool(value, location, key));
  } else if (key == "load_balancing") {
    SHOAL_ASSIGN_OR_RETURN(spec.load_balancing, ValueToString(value, location, key));
    absl::AsciiStrToLower(&spec.load_balancing);
  } else if (key == "read_consistency") {
    SHOAL_ASSIGN_OR_RETURN(spec.read_consistency, ValueToString(value, location, key));
    absl::AsciiStrToLower(&spec.read_consistency);
  } else if (key == "needs") {
    SHOAL_ASSIGN_OR_RETURN(spec.needs, ValueToStringList(value, location, key));
  } else if (key == "floating") {
    SHOAL_ASSIGN_OR_RETURN(spec.floating, ValueToBool(value, location, key));
  } else if (key == "no_reduce") {
    SHOAL_ASSIGN_OR_RETURN(spec.no_reduce, ValueToBool(value, location, key));
  } else if (key == "host") {
    SHOAL_ASSIGN_OR_RETURN(spec.host,
                           ValueToStringList(value, location, key, {.split_commas = true}));
  } else if (key == "port") {
    return ReadPort(ctx, value, location);
  } else if (key == "peer_ports") {
    return ReadPeerPorts(ctx, value, location);
  }
  return absl::OkStatus();
}

absl::Status ReadEntry(const Context& ctx, const Entry& entry) {
  const std::string key = entry.key.Scalar();
  const std::string location = EntryLocation(ctx.filename, entry.key, entry.value);
  ctx.spec.origin[key] = location;
  if (key == "uses_with") return ReadStructWithOrigins(ctx, entry, key, ctx.spec.uses_with);
  if (key == "uses_metas") return ReadUsesMetas(ctx, entry);
  if (key == "raft_configuration") {
    return ReadStructWithOrigins(ctx, entry, key, ctx.spec.raft_configuration);
  }
  if (key == "env") return ReadStringMap(ctx, entry, key, ctx.spec.env);
  if (key == "uses_dynamic_batching") {
    SHOAL_ASSIGN_OR_RETURN(ctx.spec.uses_dynamic_batching,
                           ReadDynamicBatching(entry.value, ctx.filename, key));
    return absl::OkStatus();
  }
  if (key == "internal_tls") return ReadInternalTls(ctx, entry);
  if (key == "autoscaling") return ReadAutoscaling(ctx, entry);
  if (key == "grpc_metadata") return ReadStringMap(ctx, entry, key, ctx.spec.grpc_metadata);
  SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(entry.value, ctx.filename, key));
  if (key == "gpus") {
    // Kept for `shoal export`; a local run assigns devices with CUDA_VISIBLE_DEVICES=RR.
    SHOAL_ASSIGN_OR_RETURN(ctx.spec.gpus, Stringify(value, location, key));
    Warn(ctx, entry,
         "'gpus' only applies to `shoal export` (Kubernetes, docker-compose); local replicas get "
         "GPUs through env CUDA_VISIBLE_DEVICES=RR");
    return absl::OkStatus();
  }
  if (key == "polling") return ReadPolling(ctx, entry, value, location);
  if (ContainsKey(kIgnoredKeys, key)) return ReadIgnoredKey(ctx, entry, key, value);
  return ReadScalarKey(ctx, key, value, location);
}

absl::Status UnknownKey(const Context& ctx, const YAML::Node& key_node) {
  const std::string& key = key_node.Scalar();
  std::vector<std::string_view> known(std::begin(kSupportedKeys), std::end(kSupportedKeys));
  known.insert(known.end(), std::begin(kIgnoredKeys), std::end(kIgnoredKeys));
  std::string suggestion = DidYouMean(key, known);
  if (suggestion.empty()) {
    suggestion = "; Shoal reads";
    for (std::string_view name : kSupportedKeys) absl::StrAppend(&suggestion, " ", AsAbsl(name));
    absl::StrAppend(&suggestion, " and accepts Jina's other Deployment keys");
  }
  return KeyError(YamlLocation(ctx.filename, MarkOf(key_node)), key,
                  absl::StrFormat("unknown Deployment key%s", suggestion));
}

// Checks `jtype` (or a `!Deployment` tag): a Deployment YAML may name no other class.
absl::Status CheckJtype(const Context& ctx, const Entry& entry) {
  SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(entry.value, ctx.filename, "jtype"));
  if (value.has_string_value() && value.string_value() == "Deployment") return absl::OkStatus();
  return KeyError(
      EntryLocation(ctx.filename, entry.key, entry.value), "jtype",
      absl::StrFormat("expected 'Deployment', got %s; a Flow YAML goes to `shoal flow`, "
                      "an Executor YAML to `uses:`",
                      DescribeValue(value)));
}

// Flattens the top level and `with:` into one list, rejecting duplicates within and across them.
absl::StatusOr<std::vector<Entry>> CollectEntries(const Context& ctx, const YAML::Node& root,
                                                  const std::vector<std::string_view>& skip) {
  std::vector<Entry> entries;
  std::map<std::string, YAML::Mark> seen;
  auto add = [&](const YAML::Node& key, const YAML::Node& value, bool under_with) -> Status {
    if (!key.IsScalar()) {
      return KeyError(YamlLocation(ctx.filename, MarkOf(key)), under_with ? "with" : "top level",
                      "keys must be strings");
    }
    auto [it, inserted] = seen.emplace(key.Scalar(), MarkOf(key));
    if (!inserted) {
      return KeyError(
          YamlLocation(ctx.filename, MarkOf(key)), key.Scalar(),
          absl::StrFormat("given twice (also at %s)%s", YamlLocation(ctx.filename, it->second),
                          under_with ? "; give it either at top level or under with:" : ""));
    }
    if (!ContainsKey(skip, key.Scalar())) entries.push_back({key, value});
    return absl::OkStatus();
  };
  // yaml-cpp's Node assignment rebinds shared data, so the `with:` node is held in an optional.
  std::optional<YAML::Node> with;
  for (const auto& item : root) {
    if (item.first.IsScalar() && item.first.Scalar() == "with") {
      if (with) {
        return KeyError(YamlLocation(ctx.filename, MarkOf(item.first)), "with", "given twice");
      }
      with.emplace(item.second);
      continue;
    }
    SHOAL_RETURN_IF_ERROR(add(item.first, item.second, false));
  }
  if (!with || with->IsNull()) return entries;
  if (!with->IsMap()) {
    return KeyError(YamlLocation(ctx.filename, MarkOf(*with)), "with", "expected a map");
  }
  for (const auto& item : *with) {
    if (item.first.IsScalar() &&
        (item.first.Scalar() == "jtype" || item.first.Scalar() == "with")) {
      return KeyError(YamlLocation(ctx.filename, MarkOf(item.first)), "with." + item.first.Scalar(),
                      "not allowed under with:");
    }
    SHOAL_RETURN_IF_ERROR(add(item.first, item.second, true));
  }
  return entries;
}

void AddCombinationWarnings(DeploymentSpec& spec) {
  auto warn = [&](const std::string& key, std::string_view message) {
    spec.warnings.push_back(absl::StrFormat("%s: %s", spec.origin[key], message));
  };
  if (!spec.stateful && spec.origin.contains("peer_ports")) {
    warn("peer_ports", "'peer_ports' is ignored without stateful: true");
  }
  if (!spec.stateful && spec.origin.contains("raft_configuration")) {
    warn("raft_configuration", "'raft_configuration' is ignored without stateful: true");
  }
  if (!spec.external && spec.tls) {
    warn("tls", "'tls' only applies to external addresses and is ignored");
  }
}

absl::StatusOr<DeploymentSpec> ParseMap(const YAML::Node& root, std::string_view filename,
                                        const std::vector<std::string_view>& skip) {
  DeploymentSpec spec;
  Context ctx{filename, spec};
  const std::string& tag = root.Tag();
  if (tag.size() > 1 && tag[0] == '!' && tag != "!Deployment") {
    return KeyError(YamlLocation(filename, MarkOf(root)), "jtype",
                    absl::StrFormat("expected 'Deployment', got the tag '%s'", tag));
  }
  if (!root.IsMap()) {
    return YamlError(filename, MarkOf(root), "",
                     "a Deployment must be a map (`jtype: Deployment` with `with:`, or its keys)");
  }
  SHOAL_ASSIGN_OR_RETURN(std::vector<Entry> entries, CollectEntries(ctx, root, skip));
  for (const Entry& entry : entries) {
    const std::string& key = entry.key.Scalar();
    if (key == "jtype") {
      SHOAL_RETURN_IF_ERROR(CheckJtype(ctx, entry));
    } else if (ContainsKey(kSupportedKeys, key) || ContainsKey(kIgnoredKeys, key)) {
      SHOAL_RETURN_IF_ERROR(ReadEntry(ctx, entry));
    } else {
      return UnknownKey(ctx, entry.key);
    }
  }
  if (!spec.origin.contains("workspace")) {
    auto metas_workspace = spec.uses_metas.fields().find("workspace");
    if (metas_workspace != spec.uses_metas.fields().end()) {
      spec.workspace = metas_workspace->second.string_value();
      spec.origin["workspace"] = spec.origin["uses_metas.workspace"];
    }
  }
  AddCombinationWarnings(spec);
  SHOAL_RETURN_IF_ERROR(ValidateDeploymentSpec(spec));
  spec.replicas = InitialReplicas(spec);
  if (spec.external) {
    // As Jina does: each external address is one replica.
    SHOAL_ASSIGN_OR_RETURN(std::vector<ExternalAddress> addresses, ResolveExternalAddresses(spec));
    spec.replicas = static_cast<int>(addresses.size());
  }
  return spec;
}

}  // namespace

absl::StatusOr<DeploymentSpec> ParseDeploymentMap(const YAML::Node& node, std::string_view filename,
                                                  const std::vector<std::string_view>& skip_keys) {
  try {
    return ParseMap(node, filename, skip_keys);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: %s", YamlLocation(filename, e.mark), e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", filename, e.what()));
  }
}

absl::StatusOr<DeploymentSpec> ParseDeploymentYaml(std::string_view text,
                                                   std::string_view filename) {
  SHOAL_ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(text, filename));
  return ParseDeploymentMap(root, filename);
}

absl::StatusOr<DeploymentSpec> LoadDeploymentYaml(const std::filesystem::path& path) {
  SHOAL_ASSIGN_OR_RETURN(std::string text, ReadYamlFile(path, "Deployment YAML"));
  return ParseDeploymentYaml(text, path.string());
}

}  // namespace shoal::config
