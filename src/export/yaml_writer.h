// A small YAML document model and writer for the exporters: maps keep the order keys were set in,
// and strings are quoted exactly when a YAML 1.1 or 1.2 reader (kubectl, PyYAML in
// docker-compose, js-yaml) would otherwise read them as something else ("true", "8080", "null").
// The exporters write YAML only; reading stays in src/config/ (yaml-cpp's emitter quotes neither
// "true" nor "8080", which is why this writer exists).
#ifndef SHOAL_EXPORT_YAML_WRITER_H_
#define SHOAL_EXPORT_YAML_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace shoal::exporter {

// One YAML node: a string, an integer, a bool, a list or a map. A value type; immutable once
// written, thread-compatible.
class YamlNode {
 public:
  using List = std::vector<YamlNode>;
  using Map = std::vector<std::pair<std::string, YamlNode>>;

  YamlNode() : value_(Map()) {}                                   // an empty map
  YamlNode(std::string text) : value_(std::move(text)) {}         // NOLINT: implicit by design
  YamlNode(const char* text) : value_(std::string(text)) {}       // NOLINT
  YamlNode(std::string_view text) : value_(std::string(text)) {}  // NOLINT
  YamlNode(int number) : value_(static_cast<int64_t>(number)) {}  // NOLINT
  YamlNode(int64_t number) : value_(number) {}                    // NOLINT
  YamlNode(bool flag) : value_(flag) {}                           // NOLINT
  static YamlNode EmptyList() { return YamlNode(List()); }
  static YamlNode StringList(const std::vector<std::string>& items);

  // Map only: adds `key` (a second Set of the same key replaces the value in place).
  YamlNode& Set(std::string_view key, YamlNode value);
  // List only: appends `value`.
  YamlNode& Add(YamlNode value);

  bool is_map() const { return std::holds_alternative<Map>(value_); }
  bool is_list() const { return std::holds_alternative<List>(value_); }
  bool empty_collection() const;

  // The node as a block-style YAML document (ends with a newline).
  std::string Emit() const;

 private:
  explicit YamlNode(List list) : value_(std::move(list)) {}
  void EmitTo(std::string& out, int indent) const;
  void EmitScalar(std::string& out, int indent) const;

  std::variant<std::string, int64_t, bool, List, Map> value_;
};

// `text` as a YAML scalar: plain when that reads back as the same string, else single-quoted,
// else (control characters) double-quoted with escapes.
std::string QuoteYamlString(std::string_view text);

}  // namespace shoal::exporter

#endif  // SHOAL_EXPORT_YAML_WRITER_H_
