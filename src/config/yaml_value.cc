// YAML -> google.protobuf.Value conversion. yaml-cpp reports errors by throwing; every public
// function here catches them and answers InvalidArgument naming file:line:column.
#include "src/config/yaml_value.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "shoal/status.h"
#include "src/common/strings.h"
#include "src/config/deployment_spec.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/eventhandler.h"

namespace shoal::config {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr std::string_view kBoolTag = "tag:yaml.org,2002:bool";
constexpr std::string_view kIntTag = "tag:yaml.org,2002:int";
constexpr std::string_view kFloatTag = "tag:yaml.org,2002:float";
constexpr std::string_view kNullTag = "tag:yaml.org,2002:null";

bool IsNullText(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

bool AllOf(std::string_view s, bool (*pred)(unsigned char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsOctalDigit(unsigned char c) { return c >= '0' && c <= '7'; }
bool IsHexDigit(unsigned char c) { return absl::ascii_isxdigit(c); }

// A decimal number as YAML 1.2's core schema writes one: [-+]?(\.d+|d+(\.d*)?)([eE][-+]?d+)?
bool IsDecimal(std::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t whole = digits();
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// YAML 1.2 core-schema numbers: decimal, 0x hex, 0o octal, .inf and .nan.
std::optional<double> ParseNumber(std::string_view s) {
  std::string_view unsigned_part = s;
  double sign = 1;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    sign = s[0] == '-' ? -1 : 1;
    unsigned_part.remove_prefix(1);
  }
  if (unsigned_part == ".inf" || unsigned_part == ".Inf" || unsigned_part == ".INF") {
    return sign * std::numeric_limits<double>::infinity();
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  if (s.starts_with("0x") && AllOf(s.substr(2), IsHexDigit)) {
    return static_cast<double>(std::strtoull(std::string(s.substr(2)).c_str(), nullptr, 16));
  }
  if (s.starts_with("0o") && AllOf(s.substr(2), IsOctalDigit)) {
    return static_cast<double>(std::strtoull(std::string(s.substr(2)).c_str(), nullptr, 8));
  }
  if (!IsDecimal(s)) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || IsDigit(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// A scalar's Value: quoted scalars and `!!str` stay strings; core-schema tags are enforced;
// plain (and custom-tagged) scalars are inferred after expansion.
absl::StatusOr<Value> ConvertScalar(const YAML::Node& node, std::string_view filename,
                                    const std::string& key) {
  absl::StatusOr<std::string> text = ExpandEnvVars(node.Scalar());
  if (!text.ok()) {
    return YamlError(filename, node.Mark(), key, std::string(text.status().message()));
  }
  const std::string& tag = node.Tag();
  Value value;
  if (tag == "!" || tag == kStrTag) {
    value.set_string_value(*std::move(text));
    return value;
  }
  const bool infer = tag != kBoolTag && tag != kIntTag && tag != kFloatTag && tag != kNullTag;
  if (tag == kNullTag || (infer && IsNullText(*text))) {
    if (!IsNullText(*text)) return YamlError(filename, node.Mark(), key, "not a null: " + *text);
    value.set_null_value(google::protobuf::NULL_VALUE);
    return value;
  }
  if (tag == kBoolTag || infer) {
    if (std::optional<bool> b = ParseBool(*text)) {
      value.set_bool_value(*b);
      return value;
    }
    if (!infer) return YamlError(filename, node.Mark(), key, "not a bool: " + *text);
  }
  if (std::optional<double> number = ParseNumber(*text)) {
    value.set_number_value(*number);
    return value;
  }
  if (!infer) return YamlError(filename, node.Mark(), key, "not a number: " + *text);
  value.set_string_value(*std::move(text));
  return value;
}

absl::StatusOr<Value> Convert(const YAML::Node& node, std::string_view filename,
                              const std::string& key, int depth);

absl::StatusOr<Struct> ConvertMap(const YAML::Node& node, std::string_view filename,
                                  const std::string& key, int depth) {
  Struct object;
  for (const auto& entry : node) {
    const YAML::Node& name = entry.first;
    if (!name.IsScalar()) {
      return YamlError(filename, name.Mark(), key, "map keys must be strings");
    }
    std::string child = ChildKey(key, name.Scalar());
    if (object.fields().contains(name.Scalar())) {
      return YamlError(filename, name.Mark(), child, "duplicate key");
    }
    SHOAL_ASSIGN_OR_RETURN(Value value, Convert(entry.second, filename, child, depth + 1));
    (*object.mutable_fields())[name.Scalar()] = std::move(value);
  }
  return object;
}

absl::StatusOr<Value> Convert(const YAML::Node& node, std::string_view filename,
                              const std::string& key, int depth) {
  if (depth > kMaxYamlDepth) {
    return YamlError(filename, node.Mark(), key,
                     absl::StrFormat("nested more than %d levels deep", kMaxYamlDepth));
  }
  Value value;
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      value.set_null_value(google::protobuf::NULL_VALUE);
      return value;
    case YAML::NodeType::Scalar:
      return ConvertScalar(node, filename, key);
    case YAML::NodeType::Sequence: {
      google::protobuf::ListValue* list = value.mutable_list_value();
      size_t index = 0;
      for (const YAML::Node& item : node) {
        SHOAL_ASSIGN_OR_RETURN(*list->add_values(),
                               Convert(item, filename, ItemKey(key, index++), depth + 1));
      }
      return value;
    }
    case YAML::NodeType::Map: {
      SHOAL_ASSIGN_OR_RETURN(*value.mutable_struct_value(), ConvertMap(node, filename, key, depth));
      return value;
    }
  }
  return YamlError(filename, node.Mark(), key, "unknown YAML node type");
}

// Records where each document of a stream starts, and ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> marks;
};

// Walks a parsed document as every later conversion will, aliases expanded at each use, and
// stops at the first bound it passes (kMaxYamlNodes, kMaxYamlTextBytes, kMaxYamlDepth): yaml-cpp
// shares an aliased node, so parsing is cheap, but converting a "billion laughs" is not. Deeper
// documents are refused rather than risking the stack (an alias can nest a node in itself).
class ExpansionCheck {
 public:
  explicit ExpansionCheck(std::string_view filename) : filename_(filename) {}

  absl::Status Walk(const YAML::Node& node, int depth) {
    if (depth > kMaxYamlDepth) {
      return Error(node,
                   absl::StrFormat("nested more than %d levels deep (the limit)", kMaxYamlDepth));
    }
    if (++nodes_ > kMaxYamlNodes) {
      return Error(node, absl::StrFormat("the document expands to more than %d nodes with its "
                                         "aliases expanded (the limit; each use of an alias "
                                         "counts its whole anchor)",
                                         kMaxYamlNodes));
    }
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        bytes_ += node.Scalar().size();
        if (bytes_ > kMaxYamlTextBytes) {
          return Error(node, absl::StrFormat("the document expands to more than %d bytes of "
                                             "text with its aliases expanded (the limit)",
                                             kMaxYamlTextBytes));
        }
        return absl::OkStatus();
      case YAML::NodeType::Sequence: {
        size_t index = 0;
        for (const YAML::Node& item : node) {
          path_.push_back(absl::StrFormat("[%d]", index++));
          SHOAL_RETURN_IF_ERROR(Walk(item, depth + 1));
          path_.pop_back();
        }
        return absl::OkStatus();
      }
      case YAML::NodeType::Map:
        for (const auto& entry : node) {
          SHOAL_RETURN_IF_ERROR(Walk(entry.first, depth + 1));
          path_.push_back(entry.first.IsScalar() ? "." + entry.first.Scalar() : ".?");
          SHOAL_RETURN_IF_ERROR(Walk(entry.second, depth + 1));
          path_.pop_back();
        }
        return absl::OkStatus();
      default:
        return absl::OkStatus();
    }
  }

 private:
  absl::Status Error(const YAML::Node& node, std::string_view message) const {
    std::string key;
    for (const std::string& segment : path_) key += segment;
    if (!key.empty() && key[0] == '.') key.erase(0, 1);
    return YamlError(filename_, node.Mark(), key, message);
  }

  std::string_view filename_;
  std::vector<std::string> path_;  // ".key" and "[index]" from the root to the node walked
  int64_t nodes_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace

YAML::Mark MarkOf(const YAML::Node& node) {
  return node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
}

std::string YamlLocation(std::string_view filename, const YAML::Mark& mark) {
  if (mark.is_null()) return std::string(filename);
  return absl::StrFormat("%s:%d:%d", filename, mark.line + 1, mark.column + 1);
}

absl::Status YamlError(std::string_view filename, const YAML::Mark& mark, std::string_view key,
                       std::string_view message) {
  std::string where = key.empty() ? "top level" : absl::StrFormat("key '%s'", key);
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %s: %s", YamlLocation(filename, mark), where, message));
}

std::string ChildKey(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrFormat("%s.%s", parent, key);
}

std::string ItemKey(std::string_view parent, size_t index) {
  return absl::StrFormat("%s[%d]", parent, index);
}

absl::StatusOr<YAML::Node> ParseYaml(std::string_view text, std::string_view filename) {
  try {
    // Where the documents start, without building them: yaml-cpp's LoadAll would loop for ever
    // (and run out of memory) on a ',' outside [...] or {...}, which yields empty documents
    // without moving on.
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    DocumentStarts starts;
    while (starts.marks.size() < 2 && parser.HandleNextDocument(starts)) {
    }
    if (starts.marks.empty()) return YAML::Node(YAML::NodeType::Null);
    if (starts.marks.size() > 1) {
      const YAML::Mark& second = starts.marks[1];
      if (second.pos == starts.marks[0].pos) {
        const size_t at = static_cast<size_t>(std::max(second.pos, 0));
        const std::string_view token = at < text.size() ? text.substr(at, 1) : "";
        return YamlError(filename, second, "",
                         absl::StrFormat("unexpected '%s' outside any collection (a ',' "
                                         "belongs inside [...] or {...})",
                                         absl::CHexEscape(AsAbsl(token))));
      }
      return YamlError(filename, second, "", "expected one YAML document, found a second one");
    }
    YAML::Node document = YAML::Load(std::string(text));
    SHOAL_RETURN_IF_ERROR(ExpansionCheck(filename).Walk(document, 0));
    return document;
  } catch (const YAML::DeepRecursion& e) {
    return YamlError(filename, e.mark, "",
                     absl::StrFormat("nested more than %d levels deep (the limit)", kMaxYamlDepth));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: %s", YamlLocation(filename, e.mark), e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", filename, e.what()));
  }
}

absl::StatusOr<std::string> ExpandEnvVars(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t start = text.find("${{", pos);
    if (start == std::string_view::npos) break;
    out.append(text.substr(pos, start - pos));
    size_t end = text.find("}}", start + 3);
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat("unterminated '${{' in '%s'", text));
    }
    std::string_view inner = StripWhitespace(text.substr(start + 3, end - start - 3));
    std::string_view name = inner;
    if (name.starts_with("ENV.")) name.remove_prefix(4);
    if (!IsEnvName(name)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unsupported substitution '${{ %s }}'; expected '${{ ENV.VAR }}'", inner));
    }
    const char* env = std::getenv(std::string(name).c_str());
    if (env == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("environment variable '%s' is not set", name));
    }
    out.append(env);
    pos = end + 2;
  }
  out.append(text.substr(pos));
  return out;
}

absl::StatusOr<Value> YamlToValue(const YAML::Node& node, std::string_view filename,
                                  std::string_view key) {
  try {
    return Convert(node, filename, std::string(key), 0);
  } catch (const YAML::Exception& e) {
    return YamlError(filename, e.mark, key, e.msg);
  } catch (const std::exception& e) {
    return YamlError(filename, MarkOf(node), key, e.what());
  }
}

absl::StatusOr<Struct> YamlToStruct(const YAML::Node& node, std::string_view filename,
                                    std::string_view key) {
  try {
    if (node.IsNull() || !node.IsDefined()) return Struct();
    if (!node.IsMap()) return YamlError(filename, node.Mark(), key, "expected a map");
    return ConvertMap(node, filename, std::string(key), 0);
  } catch (const YAML::Exception& e) {
    return YamlError(filename, e.mark, key, e.msg);
  } catch (const std::exception& e) {
    return YamlError(filename, MarkOf(node), key, e.what());
  }
}

absl::StatusOr<std::string> ReadYamlFile(const std::filesystem::path& path, std::string_view what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(
        absl::StrFormat("cannot read %s '%s': %s", what, path.string(), std::strerror(errno)));
  }
  // Read in pieces up to the limit, so that a device or a pipe that never ends (`/dev/zero`
  // named as a Flow item) is refused instead of filling memory.
  std::string text;
  char buffer[1 << 16];
  while (file.read(buffer, sizeof(buffer)) || file.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(file.gcount()));
    if (text.size() > static_cast<size_t>(kMaxYamlFileBytes)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s '%s' is larger than %d bytes (the limit)", what, path.string(), kMaxYamlFileBytes));
    }
  }
  if (file.bad()) {
    return absl::DataLossError(absl::StrFormat("error reading %s '%s'", what, path.string()));
  }
  return text;
}

bool ContainsKey(std::span<const std::string_view> keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

absl::Status KeyError(std::string_view location, std::string_view key, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", location, key, message));
}

std::string EntryLocation(std::string_view filename, const YAML::Node& key,
                          const YAML::Node& value) {
  return YamlLocation(filename, MarkOf(value.IsDefined() && !value.IsNull() ? value : key));
}

absl::StatusOr<int> ValueToInt(const Value& value, std::string_view location,
                               std::string_view key) {
  if (value.has_number_value()) {
    const double number = value.number_value();
    if (std::trunc(number) == number && number >= INT_MIN && number <= INT_MAX) {
      return static_cast<int>(number);
    }
  } else if (value.has_string_value()) {
    int number = 0;
    if (absl::SimpleAtoi(AsAbsl(value.string_value()), &number)) return number;
  }
  return KeyError(location, key,
                  absl::StrFormat("expected an integer, got %s", DescribeValue(value)));
}

absl::StatusOr<bool> ValueToBool(const Value& value, std::string_view location,
                                 std::string_view key) {
  if (value.has_bool_value()) return value.bool_value();
  if (value.has_string_value()) {
    const std::string lower = absl::AsciiStrToLower(AsAbsl(value.string_value()));
    if (lower == "true") return true;
    if (lower == "false") return false;
  }
  return KeyError(location, key,
                  absl::StrFormat("expected true or false, got %s", DescribeValue(value)));
}

absl::StatusOr<std::string> ValueToString(const Value& value, std::string_view location,
                                          std::string_view key) {
  if (value.has_string_value()) return value.string_value();
  return KeyError(location, key,
                  absl::StrFormat("expected a string, got %s", DescribeValue(value)));
}

absl::StatusOr<std::vector<std::string>> ValueToStringList(const Value& value,
                                                           std::string_view location,
                                                           std::string_view key,
                                                           StringListOptions options) {
  std::vector<Value> items;
  if (value.has_list_value()) {
    items.assign(value.list_value().values().begin(), value.list_value().values().end());
  } else if (!value.has_null_value()) {
    items.push_back(value);
  }
  std::vector<std::string> out;
  for (const Value& item : items) {
    if (options.numbers && item.has_number_value()) {
      out.push_back(DescribeValue(item));
      continue;
    }
    SHOAL_ASSIGN_OR_RETURN(std::string text, ValueToString(item, location, key));
    if (!options.split_commas) {
      out.push_back(std::move(text));
      continue;
    }
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (part.empty()) {
        return KeyError(location, key, absl::StrFormat("empty entry in '%s'", text));
      }
      out.emplace_back(part);
    }
  }
  return out;
}

}  // namespace shoal::config
