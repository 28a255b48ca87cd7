// YAML -> google.protobuf.Value/Struct conversion shared by every config parser in src/config/,
// with `${{ ENV.VAR }}` expansion and errors that name file:line:column and the key. Only code in
// src/config/ includes this header: yaml-cpp types stay in this directory.
#ifndef SHOAL_CONFIG_YAML_VALUE_H_
#define SHOAL_CONFIG_YAML_VALUE_H_

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "yaml-cpp/yaml.h"

namespace shoal::config {

// Where `node` starts; the null mark for an undefined node (never throws).
YAML::Mark MarkOf(const YAML::Node& node);

// "file:line:column" (1-based) of `mark`; just "file" when the mark is unknown.
std::string YamlLocation(std::string_view filename, const YAML::Mark& mark);

// InvalidArgument "file:line:column: key 'a.b': message" ("top level" when `key` is empty).
absl::Status YamlError(std::string_view filename, const YAML::Mark& mark, std::string_view key,
                       std::string_view message);

// The dotted path of a map entry or a sequence item below `parent`: "with.x", "items[2]".
std::string ChildKey(std::string_view parent, std::string_view key);
std::string ItemKey(std::string_view parent, size_t index);

// Bounds on what one YAML document may expand to, aliases counted at each use ("billion
// laughs": a few hundred bytes of anchors and aliases can stand for 10^9 nodes). Config files
// are far below them; ParseYaml refuses a document beyond any of them.
inline constexpr int kMaxYamlNodes = 100'000;       // nodes, aliases expanded
inline constexpr int kMaxYamlTextBytes = 64 << 20;  // scalar bytes, aliases expanded
inline constexpr int kMaxYamlDepth = 64;            // maps and sequences nested
inline constexpr int kMaxYamlFileBytes = 16 << 20;  // a file ReadYamlFile reads

// Parses exactly one YAML document. Syntax errors, and a document beyond the bounds above, become
// InvalidArgument with file:line:column (and the key, for a bound).
absl::StatusOr<YAML::Node> ParseYaml(std::string_view text, std::string_view filename);

// The whole text of a YAML file. NotFound / DataLoss name `what` ("Flow YAML") and the path;
// InvalidArgument past kMaxYamlFileBytes (a device or pipe that never ends included).
absl::StatusOr<std::string> ReadYamlFile(const std::filesystem::path& path, std::string_view what);

// Runs `parse()` (which returns an absl::StatusOr) and turns a yaml-cpp exception escaping it
// into InvalidArgument with file:line:column: the boundary where yaml-cpp's exceptions stop.
template <typename Parse>
auto CatchYamlErrors(std::string_view filename, Parse parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(YamlLocation(filename, e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string(filename) + ": " + e.what());
  }
}

// Replaces every `${{ ENV.VAR }}` (spaces optional; `${{ VAR }}` also reads the environment).
// An unset variable, an unterminated `${{` or any other substitution is InvalidArgument.
absl::StatusOr<std::string> ExpandEnvVars(std::string_view text);

// Converts `node`: maps -> struct, sequences -> list, plain scalars true/false -> bool, numbers
// -> number, null/~/empty -> null, anything else (and every quoted scalar) -> string; strings
// are expanded with ExpandEnvVars before their type is inferred. `key` is the node's dotted path,
// used in errors. Map keys must be unique scalars.
absl::StatusOr<google::protobuf::Value> YamlToValue(const YAML::Node& node,
                                                    std::string_view filename,
                                                    std::string_view key);
// As YamlToValue for a node that must be a map (a null node gives an empty struct).
absl::StatusOr<google::protobuf::Struct> YamlToStruct(const YAML::Node& node,
                                                      std::string_view filename,
                                                      std::string_view key);

// Reading the scalars of a converted config map. `location` is "file:line:column", `key` the
// dotted key; every error is InvalidArgument "location: key: message".

// Whether `key` is one of `keys`.
bool ContainsKey(std::span<const std::string_view> keys, std::string_view key);

// InvalidArgument "location: key: message".
absl::Status KeyError(std::string_view location, std::string_view key, std::string_view message);

// Where the map entry `key: value` was written; a null value's own mark is unreliable, so the
// key's is used for it.
std::string EntryLocation(std::string_view filename, const YAML::Node& key,
                          const YAML::Node& value);

// An int: a whole number in int's range, or a string of one ("8080").
absl::StatusOr<int> ValueToInt(const google::protobuf::Value& value, std::string_view location,
                               std::string_view key);
// A bool: true/false, or a string of one in any case ("True").
absl::StatusOr<bool> ValueToBool(const google::protobuf::Value& value, std::string_view location,
                                 std::string_view key);
// A string value, as it is.
absl::StatusOr<std::string> ValueToString(const google::protobuf::Value& value,
                                          std::string_view location, std::string_view key);

struct StringListOptions {
  bool split_commas = false;  // "a, b" is two items (trimmed; an empty one is an error)
  bool numbers = false;       // a number item is its text ("8080"), not an error
};
// A string or a list of them as one list (null: empty).
absl::StatusOr<std::vector<std::string>> ValueToStringList(const google::protobuf::Value& value,
                                                           std::string_view location,
                                                           std::string_view key,
                                                           StringListOptions options = {});

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_YAML_VALUE_H_
