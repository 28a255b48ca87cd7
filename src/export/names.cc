// DNS-1123 names for exported objects, and the sorted JSON the exported command lines carry.
#include "src/export/names.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/str_format.h"
#include "src/common/strings.h"

namespace shoal::exporter {
namespace {

bool IsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

void AppendJson(const google::protobuf::Value& value, std::string& out);

void AppendStruct(const google::protobuf::Struct& value, std::string& out) {
  // Sorted: protobuf's map iterates in no stable order.
  std::map<std::string, const google::protobuf::Value*> fields;
  for (const auto& [key, field] : value.fields()) fields[key] = &field;
  out.push_back('{');
  bool first = true;
  for (const auto& [key, field] : fields) {
    if (!first) out.push_back(',');
    first = false;
    out += JsonString(key);
    out.push_back(':');
    AppendJson(*field, out);
  }
  out.push_back('}');
}

void AppendNumber(double number, std::string& out) {
  if (!std::isfinite(number)) {
    out += "null";
  } else if (std::trunc(number) == number && std::fabs(number) <= 9007199254740992.0) {
    out += std::to_string(static_cast<int64_t>(number));
  } else {
    char buffer[32];
    auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), number);
    out.append(buffer, end);
  }
}

void AppendJson(const google::protobuf::Value& value, std::string& out) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      out += JsonString(value.string_value());
      return;
    case google::protobuf::Value::kNumberValue:
      AppendNumber(value.number_value(), out);
      return;
    case google::protobuf::Value::kBoolValue:
      out += value.bool_value() ? "true" : "false";
      return;
    case google::protobuf::Value::kStructValue:
      AppendStruct(value.struct_value(), out);
      return;
    case google::protobuf::Value::kListValue: {
      out.push_back('[');
      bool first = true;
      for (const google::protobuf::Value& item : value.list_value().values()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(item, out);
      }
      out.push_back(']');
      return;
    }
    default:
      out += "null";
  }
}

}  // namespace

bool IsDnsLabel(std::string_view name) {
  if (name.empty() || name.size() > kMaxLabelLength) return false;
  if (name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!IsLabelChar(c)) return false;
  }
  return true;
}

StatusOr<std::string> DnsLabelFor(std::string_view name, std::string_view what, size_t max_length) {
  std::string label;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      label.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c == '_' || c == '.') {
      label.push_back('-');
    } else {
      label.push_back(c);
    }
  }
  const bool valid_chars = !label.empty() && label.front() != '-' && label.back() != '-' &&
                           std::all_of(label.begin(), label.end(), IsLabelChar);
  if (!valid_chars) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: the name '%s' cannot be a Kubernetes/compose name: after lower-casing and turning "
        "'_' into '-' it must be letters, digits and '-', starting and ending with a letter or "
        "digit (got '%s')",
        AsAbsl(what), AsAbsl(name), label));
  }
  if (label.size() > max_length) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: the name '%s' is too long: exported names are at most %d characters "
                        "here (Kubernetes limits names to %d with the suffixes added)",
                        AsAbsl(what), AsAbsl(name), max_length, kMaxLabelLength));
  }
  return label;
}

Status NameRegistry::Claim(const std::string& name, std::string_view owner) {
  auto [it, inserted] = owners_.emplace(name, std::string(owner));
  if (inserted) return absl::OkStatus();
  return absl::AlreadyExistsError(
      absl::StrFormat("%s and %s would both be exported as '%s'; rename one of them", it->second,
                      AsAbsl(owner), name));
}

std::string StructToJson(const google::protobuf::Struct& value) {
  std::string out;
  AppendStruct(value, out);
  return out;
}

std::string ValueToJson(const google::protobuf::Value& value) {
  std::string out;
  AppendJson(value, out);
  return out;
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", u);
          out += escaped;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace shoal::exporter
