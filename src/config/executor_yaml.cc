// Executor YAML parsing: Jina's `jtype` / `with` / `metas` layout, validated key by key so that a
// mistake is reported with its file, line and key instead of being silently ignored.
#include "src/config/executor_yaml.h"

#include <set>

#include "absl/strings/str_format.h"
#include "shoal/status.h"
#include "src/common/log.h"
#include "src/config/yaml_value.h"

namespace shoal::config {
namespace {

constexpr std::string_view kTopLevelKeys =
    "jtype, with, metas, py_modules, requests, dynamic_batching";

// A string-valued entry (`jtype`, `metas.name`); null reads as empty when `allow_empty`.
absl::StatusOr<std::string> ReadString(const YAML::Node& node, std::string_view filename,
                                       const std::string& key, bool allow_empty) {
  SHOAL_ASSIGN_OR_RETURN(google::protobuf::Value value, YamlToValue(node, filename, key));
  if (value.has_string_value() && (allow_empty || !value.string_value().empty())) {
    return value.string_value();
  }
  if (value.has_null_value() && allow_empty) return std::string();
  return YamlError(filename, MarkOf(node), key, "expected a non-empty string");
}

// `py_modules`: one file name or a list of them.
absl::Status ReadPyModules(const YAML::Node& node, std::string_view filename,
                           const std::string& key, ExecutorYaml& out) {
  SHOAL_ASSIGN_OR_RETURN(google::protobuf::Value value, YamlToValue(node, filename, key));
  if (value.has_string_value() && !value.string_value().empty()) {
    out.py_modules.push_back(value.string_value());
    return absl::OkStatus();
  }
  if (value.has_list_value()) {
    for (const google::protobuf::Value& item : value.list_value().values()) {
      if (!item.has_string_value() || item.string_value().empty()) {
        return YamlError(filename, MarkOf(node), key, "expected a list of file names");
      }
      out.py_modules.push_back(item.string_value());
    }
    return absl::OkStatus();
  }
  return YamlError(filename, MarkOf(node), key, "expected a file name or a list of them");
}

// `requests`: a map of endpoint to method name (Jina's `{/foo: method_name}`).
absl::Status ReadRequests(const YAML::Node& node, std::string_view filename, ExecutorYaml& out) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return YamlError(filename, MarkOf(node), "requests", "expected a map of endpoint to method");
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
      return YamlError(filename, MarkOf(entry.first), "requests", "endpoints must be strings");
    }
    const std::string key = ChildKey("requests", entry.first.Scalar());
    SHOAL_ASSIGN_OR_RETURN(std::string method, ReadString(entry.second, filename, key, false));
    out.requests.emplace_back(entry.first.Scalar(), std::move(method));
  }
  return absl::OkStatus();
}

absl::Status ParseMetas(const YAML::Node& node, std::string_view filename, ExecutorYaml& out) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) return YamlError(filename, MarkOf(node), "metas", "expected a map");
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return YamlError(filename, MarkOf(entry.first), "metas", "map keys must be strings");
    }
    const std::string& name = entry.first.Scalar();
    const std::string key = ChildKey("metas", name);
    if (!seen.insert(name).second) {
      return YamlError(filename, MarkOf(entry.first), key, "duplicate key");
    }
    if (name == "name") {
      SHOAL_ASSIGN_OR_RETURN(out.name, ReadString(entry.second, filename, key, true));
    } else if (name == "workspace") {
      SHOAL_ASSIGN_OR_RETURN(out.workspace, ReadString(entry.second, filename, key, true));
    } else if (name == "py_modules") {
      SHOAL_RETURN_IF_ERROR(ReadPyModules(entry.second, filename, key, out));
    } else {
      // Other Jina metas (description, ...) carry no behaviour here; they are still checked for
      // bad `${{ }}`.
      SHOAL_RETURN_IF_ERROR(YamlToValue(entry.second, filename, key).status());
    }
  }
  return absl::OkStatus();
}

absl::Status ParseEntry(const YAML::Node& name_node, const YAML::Node& node,
                        std::string_view filename, ExecutorYaml& out) {
  const std::string& name = name_node.Scalar();
  if (name == "jtype") {
    SHOAL_ASSIGN_OR_RETURN(std::string jtype, ReadString(node, filename, name, false));
    if (!out.jtype.empty() && out.jtype != jtype) {
      return YamlError(filename, MarkOf(node), name,
                       absl::StrFormat("'%s' contradicts the tag '!%s'", jtype, out.jtype));
    }
    out.jtype = std::move(jtype);
  } else if (name == "with") {
    SHOAL_ASSIGN_OR_RETURN(out.with, YamlToStruct(node, filename, name));
  } else if (name == "metas") {
    SHOAL_RETURN_IF_ERROR(ParseMetas(node, filename, out));
  } else if (name == "py_modules") {
    SHOAL_RETURN_IF_ERROR(ReadPyModules(node, filename, name, out));
  } else if (name == "requests") {
    SHOAL_RETURN_IF_ERROR(ReadRequests(node, filename, out));
  } else if (name == "dynamic_batching") {
    SHOAL_ASSIGN_OR_RETURN(out.dynamic_batching, ReadDynamicBatching(node, filename, name));
  } else {
    return YamlError(filename, MarkOf(name_node), name,
                     absl::StrFormat("unknown key; expected one of: %s", kTopLevelKeys));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExecutorYaml> ParseRoot(const YAML::Node& root, std::string_view filename) {
  ExecutorYaml out;
  // `!ClassName` on the root map is Jina's older spelling of `jtype: ClassName`.
  const std::string& tag = root.Tag();
  if (tag.size() > 1 && tag[0] == '!') out.jtype = tag.substr(1);
  if (!root.IsMap()) {
    return YamlError(filename, MarkOf(root), "",
                     "an Executor YAML must be a map with 'jtype: ClassName'");
  }
  std::set<std::string> seen;
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) {
      return YamlError(filename, MarkOf(entry.first), "", "map keys must be strings");
    }
    if (!seen.insert(entry.first.Scalar()).second) {
      return YamlError(filename, MarkOf(entry.first), entry.first.Scalar(), "duplicate key");
    }
    SHOAL_RETURN_IF_ERROR(ParseEntry(entry.first, entry.second, filename, out));
  }
  if (out.jtype.empty()) {
    return YamlError(filename, MarkOf(root), "jtype", "missing; expected 'jtype: ClassName'");
  }
  return out;
}

}  // namespace

absl::StatusOr<ExecutorYaml> ParseExecutorYaml(std::string_view text, std::string_view filename) {
  SHOAL_ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(text, filename));
  return CatchYamlErrors(filename, [&] { return ParseRoot(root, filename); });
}

absl::StatusOr<ExecutorYaml> LoadExecutorYaml(const std::filesystem::path& path) {
  SHOAL_ASSIGN_OR_RETURN(std::string text, ReadYamlFile(path, "Executor YAML"));
  return ParseExecutorYaml(text, path.string());
}

}  // namespace shoal::config
