// Params: typed reads of request parameters and `uses_with` over google.protobuf.Struct, which
// is how Jina carries them on the wire (every number a double).
#include "shoal/params.h"

#include <cmath>
#include <limits>
#include <utility>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace shoal {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Shared by every empty view: never written after construction.
const Struct& EmptyStruct() {
  static const Struct* const empty = new Struct();
  return *empty;
}

const Value* Find(const Struct& object, std::string_view key) {
  auto it = object.fields().find(key);
  return it == object.fields().end() ? nullptr : &it->second;
}

}  // namespace

Params::Params() : object_(&EmptyStruct()) {}

Params::Params(const Struct* object) : object_(object != nullptr ? object : &EmptyStruct()) {}

std::optional<Params> Params::FromJson(std::string_view json, std::string* error) {
  auto object = std::make_shared<Struct>();
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), object.get());
  if (!status.ok()) {
    if (error != nullptr) {
      *error = "parameters are not a JSON object: " + std::string(status.message());
    }
    return std::nullopt;
  }
  Params params;
  params.object_ = object.get();
  params.owned_ = std::move(object);
  return params;
}

Params::Params(const Params& other) = default;
Params& Params::operator=(const Params& other) = default;

Params::Params(Params&& other) noexcept
    : owned_(std::move(other.owned_)), object_(std::exchange(other.object_, &EmptyStruct())) {}

Params& Params::operator=(Params&& other) noexcept {
  if (this != &other) {
    owned_ = std::move(other.owned_);
    object_ = std::exchange(other.object_, &EmptyStruct());
  }
  return *this;
}

Params::~Params() = default;

bool Params::Has(std::string_view key) const { return Find(*object_, key) != nullptr; }

bool Params::empty() const { return object_->fields().empty(); }

std::optional<double> Params::GetDouble(std::string_view key) const {
  const Value* value = Find(*object_, key);
  if (value == nullptr || !value->has_number_value()) return std::nullopt;
  return value->number_value();
}

std::optional<int64_t> Params::GetInt(std::string_view key) const {
  std::optional<double> number = GetDouble(key);
  // 2^63 is exact as a double; every whole double in [-2^63, 2^63) fits an int64_t.
  constexpr double kLimit = 9223372036854775808.0;
  if (!number || !std::isfinite(*number) || std::trunc(*number) != *number || *number < -kLimit ||
      *number >= kLimit) {
    return std::nullopt;
  }
  return static_cast<int64_t>(*number);
}

std::optional<bool> Params::GetBool(std::string_view key) const {
  const Value* value = Find(*object_, key);
  if (value == nullptr || !value->has_bool_value()) return std::nullopt;
  return value->bool_value();
}

std::optional<std::string> Params::GetString(std::string_view key) const {
  const Value* value = Find(*object_, key);
  if (value == nullptr || !value->has_string_value()) return std::nullopt;
  return value->string_value();
}

Params Params::GetObject(std::string_view key) const {
  const Value* value = Find(*object_, key);
  if (value == nullptr || !value->has_struct_value()) return Params();
  Params nested(&value->struct_value());
  // A nested view of an owned object keeps the whole object alive (aliasing constructor).
  if (owned_ != nullptr) nested.owned_ = std::shared_ptr<const Struct>(owned_, nested.object_);
  return nested;
}

double Params::Get(std::string_view key, double fallback) const {
  return GetDouble(key).value_or(fallback);
}

int64_t Params::Get(std::string_view key, int64_t fallback) const {
  return GetInt(key).value_or(fallback);
}

int Params::Get(std::string_view key, int fallback) const {
  std::optional<int64_t> value = GetInt(key);
  if (!value || *value < std::numeric_limits<int>::min() ||
      *value > std::numeric_limits<int>::max()) {
    return fallback;
  }
  return static_cast<int>(*value);
}

bool Params::Get(std::string_view key, bool fallback) const {
  return GetBool(key).value_or(fallback);
}

std::string Params::Get(std::string_view key, const char* fallback) const {
  std::optional<std::string> value = GetString(key);
  if (value) return *std::move(value);
  return fallback != nullptr ? std::string(fallback) : std::string();
}

std::string Params::ToJson() const {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*object_, &json).ok()) return "{}";
  return json;
}

}  // namespace shoal
