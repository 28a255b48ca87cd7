// Reading dynamic batching options from YAML or JSON, and writing them back as JSON.
#include "src/config/dynamic_batching.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/struct.pb.h"
#include "shoal/status.h"
#include "src/config/yaml_value.h"

namespace shoal::config {
namespace {

using google::protobuf::Value;

constexpr std::string_view kKeys[] = {
    "preferred_batch_size", "timeout",         "flush_all",
    "use_dynamic_batching", "max_queue_delay", "max_batch_size",
    "max_queue_size",       "custom_metric",   "use_custom_metric"};

absl::StatusOr<int> PositiveInt(const Value& value, std::string_view location,
                                std::string_view key) {
  SHOAL_ASSIGN_OR_RETURN(int number, ValueToInt(value, location, key));
  if (number <= 0) {
    return KeyError(location, key, absl::StrFormat("must be > 0, got %d", number));
  }
  return number;
}

// One option of an endpoint's entry into `options`; `enabled` is use_dynamic_batching.
absl::Status ReadOption(const std::string& name, const Value& value, std::string_view location,
                        std::string_view key, BatchingOptions& options, bool& enabled) {
  if (name == "preferred_batch_size") {
    options.preferred_batch_size = 0;
    if (value.has_null_value()) return absl::OkStatus();
    SHOAL_ASSIGN_OR_RETURN(options.preferred_batch_size, PositiveInt(value, location, key));
  } else if (name == "timeout") {
    SHOAL_ASSIGN_OR_RETURN(options.timeout_ms, PositiveInt(value, location, key));
  } else if (name == "flush_all") {
    SHOAL_ASSIGN_OR_RETURN(options.flush_all, ValueToBool(value, location, key));
  } else if (name == "use_dynamic_batching") {
    SHOAL_ASSIGN_OR_RETURN(enabled, ValueToBool(value, location, key));
  } else if (name == "max_queue_delay") {
    SHOAL_ASSIGN_OR_RETURN(options.max_queue_delay_us, PositiveInt(value, location, key));
  } else if (name == "max_batch_size") {
    SHOAL_ASSIGN_OR_RETURN(options.max_batch_size, PositiveInt(value, location, key));
  } else if (name == "max_queue_size") {
    SHOAL_ASSIGN_OR_RETURN(options.max_queue_size, PositiveInt(value, location, key));
  } else if (name == "custom_metric" || name == "use_custom_metric") {
    if (value.has_null_value() || (value.has_bool_value() && !value.bool_value())) {
      return absl::OkStatus();
    }
    return KeyError(location, key,
                    "custom batch metrics are not supported: batches are counted in documents");
  } else {
    return KeyError(location, key,
                    absl::StrFormat("unknown key; expected one of: %s", kDynamicBatchingKeys));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<BatchingOptions>> ReadEndpoint(const YAML::Node& node,
                                                            std::string_view filename,
                                                            const std::string& key) {
  BatchingOptions options;
  bool enabled = true;
  if (node.IsNull()) return options;
  if (!node.IsMap()) {
    return YamlError(filename, MarkOf(node), key,
                     absl::StrFormat("expected a map of %s", kDynamicBatchingKeys));
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string child = ChildKey(key, name);
    if (!seen.insert(name).second) {
      return YamlError(filename, MarkOf(entry.first), child, "duplicate key");
    }
    if (!ContainsKey(kKeys, name)) {
      return YamlError(filename, MarkOf(entry.first), child,
                       absl::StrFormat("unknown key; expected one of: %s", kDynamicBatchingKeys));
    }
    SHOAL_ASSIGN_OR_RETURN(Value value, YamlToValue(entry.second, filename, child));
    SHOAL_RETURN_IF_ERROR(ReadOption(
        name, value, EntryLocation(filename, entry.first, entry.second), child, options, enabled));
  }
  if (!enabled) return std::optional<BatchingOptions>();
  return options;
}

// `text` as a JSON string literal.
std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<DynamicBatchingTable> ReadDynamicBatching(const YAML::Node& node,
                                                         std::string_view filename,
                                                         std::string_view key) {
  return CatchYamlErrors(filename, [&]() -> absl::StatusOr<DynamicBatchingTable> {
    DynamicBatchingTable table;
    if (node.IsNull()) return table;
    if (!node.IsMap()) {
      return YamlError(filename, MarkOf(node), key,
                       "expected a map of endpoint to options: {'/embed': "
                       "{preferred_batch_size: 32, timeout: 50}}");
    }
    for (const auto& entry : node) {
      const std::string endpoint = entry.first.IsScalar() ? entry.first.Scalar() : "";
      if (endpoint.empty() || endpoint[0] != '/') {
        return YamlError(
            filename, MarkOf(entry.first), key,
            absl::StrFormat("'%s' is not an endpoint; endpoints start with '/'", endpoint));
      }
      const std::string child = ChildKey(key, endpoint);
      if (table.contains(endpoint)) {
        return YamlError(filename, MarkOf(entry.first), child, "duplicate endpoint");
      }
      SHOAL_ASSIGN_OR_RETURN(table[endpoint], ReadEndpoint(entry.second, filename, child));
    }
    return table;
  });
}

absl::StatusOr<DynamicBatchingTable> ParseDynamicBatchingJson(std::string_view json,
                                                              std::string_view what) {
  SHOAL_ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(json, what));
  return ReadDynamicBatching(root, what, "");
}

std::string DynamicBatchingToJson(const DynamicBatchingTable& table) {
  // Written by hand, keys in a fixed order, so that exports are the same from run to run.
  std::string json = "{";
  for (const auto& [endpoint, options] : table) {
    if (json.size() > 1) json += ",";
    absl::StrAppend(&json, JsonQuote(endpoint), ":{");
    if (!options.has_value()) {
      json += "\"use_dynamic_batching\":false}";
      continue;
    }
    if (options->preferred_batch_size > 0) {
      absl::StrAppend(&json, "\"preferred_batch_size\":", options->preferred_batch_size, ",");
    }
    absl::StrAppend(&json, "\"timeout\":", options->timeout_ms);
    if (options->flush_all) json += ",\"flush_all\":true";
    if (options->max_queue_delay_us > 0) {
      absl::StrAppend(&json, ",\"max_queue_delay\":", options->max_queue_delay_us);
    }
    if (options->max_batch_size > 0) {
      absl::StrAppend(&json, ",\"max_batch_size\":", options->max_batch_size);
    }
    if (options->max_queue_size > 0) {
      absl::StrAppend(&json, ",\"max_queue_size\":", options->max_queue_size);
    }
    json += "}";
  }
  return json + "}";
}

}  // namespace shoal::config
