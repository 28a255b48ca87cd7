// Flow YAML parsing: the top level and `with:`/`gateway:` are read here; each `executors:` item
// goes through the Deployment parser (ParseDeploymentMap or LoadDeploymentYaml), then takes the
// Flow's defaults and its `needs`, and the whole spec is checked by ValidateFlowSpec.
#include "src/config/flow_yaml.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "shoal/status.h"
#include "src/common/strings.h"
#include "src/config/deployment_yaml.h"
#include "src/config/deployment_yaml_internal.h"
#include "src/config/yaml_value.h"

namespace shoal::config {
namespace {

using google::protobuf::Value;

// clang-format off
constexpr std::string_view kTopLevelKeys[] = {
    "jtype", "version", "with", "executors", "deployments", "gateway",
};
// Gateway settings, under `with:` or `gateway:`.
constexpr std::string_view kGatewayKeys[] = {
    "name", "port", "ports", "host", "protocol", "protocols", "prefetch", "port_monitoring",
    "max_docs_per_request", "grpc_server_options", "ssl_certfile", "ssl_keyfile",
};
// Deployment keys under `with:` that every Executor inherits unless it sets them.
constexpr std::string_view kInheritedKeys[] = {
    "env", "timeout_send", "timeout_ready", "retries", "workspace", "load_balancing",
    "grpc_metadata", "expose_internal_errors", "auth_token", "internal_tls", "reflection",
};
// Deployment keys that only make sense per Executor.
constexpr std::string_view kPerExecutorKeys[] = {
    "replicas", "shards", "polling", "uses_metas", "external", "tls", "tls_ca_file", "stateful",
    "peer_ports", "raft_configuration", "read_consistency", "needs", "floating", "no_reduce",
    "max_queued_requests",
};
// Jina Flow and gateway arguments that have no effect in Shoal.
constexpr std::string_view kIgnoredKeys[] = {
    "compression", "cors", "description", "docker_kwargs", "entrypoint", "env_from_secret",
    "exit_on_exceptions", "expose_endpoints", "expose_graphql_endpoint", "extra_search_paths",
    "grpc_channel_options", "image_pull_secrets", "log_config", "metrics",
    "metrics_exporter_host", "metrics_exporter_port", "monitoring", "no_crud_endpoints",
    "no_debug_endpoints", "prefer_platform", "provider", "provider_endpoint",
    "proxy", "py_modules", "quiet", "quiet_error", "reload", "suppress_root_logging",
    "timeout_ctrl", "title", "traces_exporter_host",
    "traces_exporter_port", "tracing", "uses", "uses_with", "uvicorn_kwargs", "workspace_id",
};
// clang-format on

// What parsing the Flow accumulates besides the spec itself.
struct Context {
  std::string_view filename;
  std::filesystem::path base_dir;  // relative Deployment YAML paths start here
  FlowSpec& spec;
  // The inherited keys of `with:`, as a Deployment map, and what they parse to.
  YAML::Node defaults_node{YAML::NodeType::Map};
  DeploymentSpec defaults;
  std::map<std::string, std::string> gateway_keys;  // "port", "protocol", ... -> where given
  std::string last = kGatewayNode;                  // the node an omitted `needs` names
};

absl::Status ReadGatewayKey(Context& ctx, const YAML::Node& key_node, const YAML::Node& value_node,
                            const std::string& dotted) {
  const std::string& key = key_node.Scalar();
  const std::string canonical = key == "ports" ? "port" : key == "protocols" ? "protocol" : key;
  const std::string location = EntryLocation(ctx.filename, key_node, value_node);
  auto [it, inserted] = ctx.gateway_keys.emplace(canonical, location);
  if (!inserted) {
    return KeyError(location, dotted, absl::StrFormat("given twice (also at %s)", it->second));
  }
  SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(value_node, ctx.filename, dotted));
  FlowSpec& spec = ctx.spec;
  spec.origin[key] = location;
  if (canonical == "name") {
    SHOAL_ASSIGN_OR_RETURN(spec.name, ValueToString(value, location, dotted));
  } else if (canonical == "host") {
    SHOAL_ASSIGN_OR_RETURN(spec.host, ValueToString(value, location, dotted));
  } else if (canonical == "prefetch") {
    SHOAL_ASSIGN_OR_RETURN(spec.prefetch, ValueToInt(value, location, dotted));
  } else if (canonical == "max_docs_per_request") {
    SHOAL_ASSIGN_OR_RETURN(spec.max_docs_per_request, ValueToInt(value, location, dotted));
  } else if (canonical == "grpc_server_options") {
    SHOAL_ASSIGN_OR_RETURN(spec.grpc_server_limits, ReadGrpcServerOptions(value, location, dotted));
  } else if (canonical == "ssl_certfile") {
    SHOAL_ASSIGN_OR_RETURN(spec.ssl_certfile, ValueToString(value, location, dotted));
  } else if (canonical == "ssl_keyfile") {
    SHOAL_ASSIGN_OR_RETURN(spec.ssl_keyfile, ValueToString(value, location, dotted));
  } else if (canonical == "port_monitoring") {
    SHOAL_ASSIGN_OR_RETURN(spec.port_monitoring.emplace(), ValueToInt(value, location, dotted));
  } else if (canonical == "protocol") {
    SHOAL_ASSIGN_OR_RETURN(
        spec.protocols,
        ValueToStringList(value, location, dotted, {.split_commas = true, .numbers = true}));
    for (std::string& protocol : spec.protocols) absl::AsciiStrToLower(&protocol);
  } else if (canonical == "port") {
    SHOAL_ASSIGN_OR_RETURN(
        std::vector<std::string> ports,
        ValueToStringList(value, location, dotted, {.split_commas = true, .numbers = true}));
    spec.ports.clear();
    for (const std::string& port : ports) {
      Value text;
      text.set_string_value(port);
      SHOAL_ASSIGN_OR_RETURN(spec.ports.emplace_back(), ValueToInt(text, location, dotted));
    }
  }
  return absl::OkStatus();
}

absl::Status UnknownSectionKey(std::string_view location, std::string_view dotted,
                               std::string_view key, bool is_with) {
  std::vector<std::string_view> known;
  for (std::string_view name : kGatewayKeys) known.push_back(name);
  if (is_with) {
    for (std::string_view name : kInheritedKeys) known.push_back(name);
  }
  for (std::string_view name : kIgnoredKeys) known.push_back(name);
  std::string hint = DidYouMean(key, known);
  if (hint.empty()) {
    hint =
        "; Shoal reads name, port, host, protocol, prefetch, port_monitoring, "
        "max_docs_per_request";
    if (is_with) {
      hint +=
          " and the Executor defaults env, timeout_send, timeout_ready, retries, workspace, "
          "load_balancing, grpc_metadata, auth_token, internal_tls, reflection";
    }
  }
  return KeyError(location, dotted,
                  absl::StrFormat("unknown %s key%s", is_with ? "Flow" : "gateway", hint));
}

// `with:` (gateway settings and Executor defaults) or `gateway:` (gateway settings only).
absl::Status ReadSection(Context& ctx, const YAML::Node& node, std::string_view section) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return KeyError(YamlLocation(ctx.filename, MarkOf(node)), section, "expected a map");
  }
  const bool is_with = section == "with";
  for (const auto& item : node) {
    const std::string location = YamlLocation(ctx.filename, MarkOf(item.first));
    if (!item.first.IsScalar()) return KeyError(location, section, "keys must be strings");
    const std::string& key = item.first.Scalar();
    const std::string dotted = ChildKey(section, key);
    if (ContainsKey(kGatewayKeys, key)) {
      SHOAL_RETURN_IF_ERROR(ReadGatewayKey(ctx, item.first, item.second, dotted));
    } else if (is_with && ContainsKey(kInheritedKeys, key)) {
      ctx.defaults_node.force_insert(item.first, item.second);
    } else if (ContainsKey(kIgnoredKeys, key) ||
               (!is_with && (ContainsKey(kInheritedKeys, key) || key == "replicas"))) {
      ctx.spec.warnings.push_back(
          absl::StrFormat("%s: '%s' is not supported by Shoal and is ignored", location, dotted));
    } else if (is_with && ContainsKey(kPerExecutorKeys, key)) {
      return KeyError(location, dotted,
                      "is set per Executor in Shoal; give it on the items of executors:");
    } else {
      return UnknownSectionKey(location, dotted, key, is_with);
    }
  }
  return absl::OkStatus();
}

// Copies the Flow's defaults into an Executor that does not set them itself.
void Inherit(const DeploymentSpec& flow, DeploymentSpec& node) {
  auto copy_origins = [&](const std::string& key) {
    for (const auto& [name, location] : flow.origin) {
      if (name == key || name.starts_with(key + ".")) node.origin.emplace(name, location);
    }
  };
  auto take = [&](const std::string& key) {
    if (!flow.origin.contains(key) || node.origin.contains(key)) return false;
    copy_origins(key);
    return true;
  };
  if (flow.origin.contains("env")) {
    for (const auto& [name, value] : flow.env) {
      if (!node.env.emplace(name, value).second) continue;
      auto origin = flow.origin.find("env." + name);
      if (origin != flow.origin.end()) node.origin.insert(*origin);
    }
    node.origin.emplace("env", flow.origin.at("env"));
  }
  if (take("timeout_send")) node.timeout_send_ms = flow.timeout_send_ms;
  if (take("timeout_ready")) node.timeout_ready_ms = flow.timeout_ready_ms;
  if (take("retries")) node.retries = flow.retries;
  if (take("workspace")) node.workspace = flow.workspace;
  if (take("load_balancing")) node.load_balancing = flow.load_balancing;
  if (take("grpc_metadata")) node.grpc_metadata = flow.grpc_metadata;
  if (take("expose_internal_errors")) node.expose_internal_errors = flow.expose_internal_errors;
  if (take("auth_token")) node.auth_token = flow.auth_token;
  if (take("internal_tls")) node.internal_tls = flow.internal_tls;
  if (take("reflection")) node.reflection = flow.reflection;
}

// The value of `key` in an item map, at its top level or under its `with:`.
std::optional<YAML::Node> FindItemKey(const YAML::Node& item, std::string_view key) {
  for (const auto& entry : item) {
    if (!entry.first.IsScalar()) continue;
    if (entry.first.Scalar() == key) return entry.second;
    if (entry.first.Scalar() != "with" || !entry.second.IsMap()) continue;
    for (const auto& inner : entry.second) {
      if (inner.first.IsScalar() && inner.first.Scalar() == key) return inner.second;
    }
  }
  return std::nullopt;
}

bool IsGatewayItem(const Context& ctx, const YAML::Node& item, const std::string& item_key) {
  std::optional<YAML::Node> name = FindItemKey(item, "name");
  if (!name || !name->IsScalar()) return false;
  absl::StatusOr<Value> value = YamlToValue(*name, ctx.filename, ChildKey(item_key, "name"));
  return value.ok() && value->has_string_value() && value->string_value() == kGatewayNode;
}

// How an item joins the graph (Jina's Flow method the item calls).
enum class Method { kAdd, kNeeds, kNeedsAll };

absl::StatusOr<Method> ReadMethod(const Context& ctx, const YAML::Node& item,
                                  const std::string& item_key) {
  std::optional<YAML::Node> node = FindItemKey(item, "method");
  if (!node) return Method::kAdd;
  const std::string key = ChildKey(item_key, "method");
  const std::string location = YamlLocation(ctx.filename, MarkOf(*node));
  SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(*node, ctx.filename, key));
  const std::string method = value.has_string_value() ? value.string_value() : "";
  if (method == "add") return Method::kAdd;
  if (method == "needs") return Method::kNeeds;
  if (method == "needs_all") return Method::kNeedsAll;
  if (method == "inspect") return KeyError(location, key, "'inspect' is not supported by Shoal");
  return KeyError(
      location, key,
      absl::StrFormat("expected add, needs or needs_all, got %s%s", DescribeValue(value),
                      DidYouMean(method, {"add", "needs", "needs_all"})));
}

// An item that is a string: the path of a Deployment YAML.
absl::StatusOr<DeploymentSpec> LoadItemFile(const Context& ctx, const YAML::Node& item,
                                            const std::string& item_key) {
  const std::string location = YamlLocation(ctx.filename, MarkOf(item));
  SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(item, ctx.filename, item_key));
  if (!item.IsScalar() || !value.has_string_value() || value.string_value().empty()) {
    return KeyError(location, item_key,
                    absl::StrFormat("expected a map of Deployment keys or the path of a Deployment "
                                    "YAML, got %s",
                                    DescribeValue(value)));
  }
  std::filesystem::path path(value.string_value());
  if (path.is_relative()) path = ctx.base_dir / path;
  absl::StatusOr<DeploymentSpec> spec = LoadDeploymentYaml(path);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrFormat("%s: %s: %s", location, item_key,
                                                              AsStd(spec.status().message())));
  }
  return spec;
}

// The non-floating nodes that no node needs yet, or the gateway when there are none.
std::vector<std::string> HangingNodes(const FlowSpec& spec) {
  std::set<std::string> needed;
  for (const DeploymentSpec& node : spec.executors) {
    needed.insert(node.needs.begin(), node.needs.end());
  }
  std::vector<std::string> hanging;
  for (const DeploymentSpec& node : spec.executors) {
    if (!node.floating && !needed.contains(node.name)) hanging.push_back(node.name);
  }
  if (hanging.empty()) hanging.push_back(kGatewayNode);
  return hanging;
}

// Names the node, gives it the Flow's defaults and its `needs`, and appends it.
absl::Status AddNode(Context& ctx, DeploymentSpec node, Method method, const std::string& location,
                     const std::string& item_key) {
  FlowSpec& spec = ctx.spec;
  if (!node.origin.contains("name")) {
    node.name = method == Method::kAdd ? absl::StrFormat("executor%d", spec.executors.size())
                                       : std::string("joiner");
  }
  // As in Jina, a join passes its merged request through unless it names an Executor.
  if (method != Method::kAdd && !node.origin.contains("uses")) node.uses = "BaseExecutor";
  Inherit(ctx.defaults, node);
  std::vector<std::string> needs;
  for (std::string& need : node.needs) {
    if (std::find(needs.begin(), needs.end(), need) == needs.end()) needs.push_back(need);
  }
  node.needs = std::move(needs);
  const std::string needs_location =
      node.origin.contains("needs") ? node.origin.at("needs") : location;
  if (method == Method::kNeeds && node.needs.size() < 2) {
    return KeyError(needs_location, ChildKey(item_key, "needs"),
                    "method 'needs' joins several nodes: list at least two");
  }
  if (method == Method::kNeedsAll) {
    if (!node.needs.empty()) {
      return KeyError(needs_location, ChildKey(item_key, "needs"),
                      "method 'needs_all' joins every node nothing needs yet; remove needs");
    }
    node.needs = HangingNodes(spec);
  }
  if (node.needs.empty()) node.needs.push_back(ctx.last);
  if (!node.floating) ctx.last = node.name;
  spec.origin[ItemKey("executors", spec.executors.size())] = location;
  spec.executors.push_back(std::move(node));
  return absl::OkStatus();
}

absl::Status ReadExecutors(Context& ctx, const YAML::Node& list, const std::string& section) {
  if (list.IsNull()) return absl::OkStatus();
  if (!list.IsSequence()) {
    return KeyError(YamlLocation(ctx.filename, MarkOf(list)), section,
                    "expected a list of Executors");
  }
  size_t index = 0;
  for (const YAML::Node& item : list) {
    const std::string key = ItemKey(section, index++);
    const std::string location = YamlLocation(ctx.filename, MarkOf(item));
    const std::string skipped = absl::StrFormat(
        "%s: %s: an item named 'gateway' is skipped; set the gateway under with: or gateway:",
        location, key);
    Method method = Method::kAdd;
    std::optional<DeploymentSpec> node;
    if (item.IsMap()) {
      if (IsGatewayItem(ctx, item, key)) {
        ctx.spec.warnings.push_back(skipped);
        continue;
      }
      SHOAL_ASSIGN_OR_RETURN(method, ReadMethod(ctx, item, key));
      SHOAL_ASSIGN_OR_RETURN(node, ParseDeploymentMap(item, ctx.filename, {"method"}));
    } else {
      SHOAL_ASSIGN_OR_RETURN(node, LoadItemFile(ctx, item, key));
      if (node->name == kGatewayNode) {
        ctx.spec.warnings.push_back(skipped);
        continue;
      }
    }
    SHOAL_RETURN_IF_ERROR(AddNode(ctx, *std::move(node), method, location, key));
  }
  return absl::OkStatus();
}

absl::Status CheckJtype(const Context& ctx, const YAML::Node& key, const YAML::Node& node) {
  SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(node, ctx.filename, "jtype"));
  if (value.has_string_value() && value.string_value() == "Flow") return absl::OkStatus();
  const bool deployment = value.has_string_value() && value.string_value() == "Deployment";
  return KeyError(
      EntryLocation(ctx.filename, key, node), "jtype",
      absl::StrFormat("expected 'Flow', got %s%s", DescribeValue(value),
                      deployment ? "; a Deployment YAML goes to `shoal deployment`" : ""));
}

absl::Status CheckVersion(Context& ctx, const YAML::Node& key, const YAML::Node& node) {
  SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(node, ctx.filename, "version"));
  if ((value.has_string_value() && value.string_value() == "1") ||
      (value.has_number_value() && value.number_value() == 1)) {
    return absl::OkStatus();
  }
  ctx.spec.warnings.push_back(absl::StrFormat("%s: version %s is not known; read as version '1'",
                                              EntryLocation(ctx.filename, key, node),
                                              DescribeValue(value)));
  return absl::OkStatus();
}

absl::Status UnknownTopLevelKey(std::string_view location, std::string_view key) {
  if (ContainsKey(kGatewayKeys, key) || ContainsKey(kInheritedKeys, key) ||
      ContainsKey(kIgnoredKeys, key)) {
    return KeyError(location, key, "a Flow argument: it belongs under with:");
  }
  if (ContainsKey(kPerExecutorKeys, key)) {
    return KeyError(location, key, "a Deployment key: give it on the items of executors:");
  }
  std::string hint = DidYouMean(
      key, std::vector<std::string_view>(std::begin(kTopLevelKeys), std::end(kTopLevelKeys)));
  if (hint.empty()) hint = "; a Flow YAML has jtype, version, with, executors and gateway";
  return KeyError(location, key, absl::StrFormat("unknown top-level key%s", hint));
}

absl::StatusOr<FlowSpec> ParseRoot(const YAML::Node& root, std::string_view filename) {
  FlowSpec spec;
  Context ctx{filename, std::filesystem::path(filename).parent_path(), spec};
  const std::string& tag = root.Tag();
  if (tag.size() > 1 && tag[0] == '!' && tag != "!Flow") {
    return KeyError(YamlLocation(filename, MarkOf(root)), "jtype",
                    absl::StrFormat("expected 'Flow', got the tag '%s'", tag));
  }
  if (!root.IsMap()) {
    return YamlError(filename, MarkOf(root), "",
                     "a Flow must be a map (jtype: Flow, with:, executors:)");
  }
  std::optional<YAML::Node> with, gateway, executors;
  std::string executors_key;
  std::map<std::string, std::string> seen;
  for (const auto& item : root) {
    const std::string location = YamlLocation(filename, MarkOf(item.first));
    if (!item.first.IsScalar()) return KeyError(location, "top level", "keys must be strings");
    const std::string& key = item.first.Scalar();
    auto [it, inserted] = seen.emplace(key == "deployments" ? "executors" : key, location);
    if (!inserted) {
      return KeyError(location, key, absl::StrFormat("given twice (also at %s)", it->second));
    }
    if (key == "jtype") {
      SHOAL_RETURN_IF_ERROR(CheckJtype(ctx, item.first, item.second));
    } else if (key == "version") {
      SHOAL_RETURN_IF_ERROR(CheckVersion(ctx, item.first, item.second));
    } else if (key == "with") {
      with.emplace(item.second);
    } else if (key == "gateway") {
      gateway.emplace(item.second);
    } else if (key == "executors" || key == "deployments") {
      executors.emplace(item.second);
      executors_key = key;
    } else {
      return UnknownTopLevelKey(location, key);
    }
  }
  if (with) SHOAL_RETURN_IF_ERROR(ReadSection(ctx, *with, "with"));
  if (gateway) SHOAL_RETURN_IF_ERROR(ReadSection(ctx, *gateway, "gateway"));
  if (ctx.defaults_node.size() > 0) {
    SHOAL_ASSIGN_OR_RETURN(ctx.defaults, ParseDeploymentMap(ctx.defaults_node, filename));
    // The gateway checks the token its Executors check, and serves reflection as they do.
    spec.auth_token = ctx.defaults.auth_token;
    spec.reflection = ctx.defaults.reflection;
    for (const char* key : {"auth_token", "reflection"}) {
      if (auto it = ctx.defaults.origin.find(key); it != ctx.defaults.origin.end()) {
        spec.origin[key] = it->second;
      }
    }
  }
  if (executors) SHOAL_RETURN_IF_ERROR(ReadExecutors(ctx, *executors, executors_key));
  SHOAL_RETURN_IF_ERROR(ValidateFlowSpec(spec));
  return spec;
}

}  // namespace

absl::StatusOr<FlowSpec> ParseFlowYaml(std::string_view text, std::string_view filename) {
  SHOAL_ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(text, filename));
  return CatchYamlErrors(filename, [&] { return ParseRoot(root, filename); });
}

absl::StatusOr<FlowSpec> LoadFlowYaml(const std::filesystem::path& path) {
  SHOAL_ASSIGN_OR_RETURN(std::string text, ReadYamlFile(path, "Flow YAML"));
  return ParseFlowYaml(text, path.string());
}

absl::StatusOr<std::string> YamlKind(std::string_view text, std::string_view filename) {
  SHOAL_ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(text, filename));
  return CatchYamlErrors(filename, [&]() -> absl::StatusOr<std::string> {
    if (root.Tag().size() > 1 && root.Tag()[0] == '!') return root.Tag().substr(1);
    if (!root.IsMap()) {
      return YamlError(filename, MarkOf(root), "", "expected a Flow or a Deployment (a map)");
    }
    const YAML::Node& map = root;  // const: a lookup must not add the key
    const YAML::Node jtype = map["jtype"];
    if (jtype.IsDefined() && jtype.IsScalar()) return jtype.Scalar();
    if (map["executors"].IsDefined() || map["deployments"].IsDefined()) {
      return std::string("Flow");
    }
    return std::string("Deployment");
  });
}

}  // namespace shoal::config
