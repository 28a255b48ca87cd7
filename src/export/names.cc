// DNS-1123 names for exported objects, and the sorted JSON the exported command lines carry.
#include "src/export/names.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "src/common/strings.h"

namespace shoal::exporter {
namespace {

bool IsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// nlohmann::json keeps object keys sorted (protobuf's map iterates in no stable order); whole
// numbers become integers, so that 300 prints as 300, not 300.0.
nlohmann::json ToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kNumberValue: {
      const double number = value.number_value();
      if (!std::isfinite(number)) return nullptr;
      if (std::trunc(number) == number && std::fabs(number) <= 9007199254740992.0) {
        return static_cast<int64_t>(number);
      }
      return number;
    }
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kStructValue: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [key, field] : value.struct_value().fields()) object[key] = ToJson(field);
      return object;
    }
    case google::protobuf::Value::kListValue: {
      nlohmann::json list = nlohmann::json::array();
      for (const google::protobuf::Value& item : value.list_value().values()) {
        list.push_back(ToJson(item));
      }
      return list;
    }
    default:
      return nullptr;
  }
}

std::string Dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
  google::protobuf::Value wrapped;
  *wrapped.mutable_struct_value() = value;
  return Dump(ToJson(wrapped));
}

std::string ValueToJson(const google::protobuf::Value& value) { return Dump(ToJson(value)); }

std::string JsonString(std::string_view text) { return Dump(std::string(text)); }

}  // namespace shoal::exporter
