// Request parameters and Executor configuration (`uses_with`): a read-only view over a JSON-like
// object (google.protobuf.Struct on the wire, where every number is a double).
#ifndef SHOAL_PARAMS_H_
#define SHOAL_PARAMS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace google::protobuf {
class Struct;
}  // namespace google::protobuf

namespace shoal {

// Immutable view; either borrows a Struct that outlives it or owns a copy (FromJson, Empty).
// Thread-compatible.
class Params {
 public:
  // An empty object.
  Params();
  // Borrows `object`, which must outlive this view and every copy of it.
  explicit Params(const google::protobuf::Struct* object);
  // Parses a JSON object; an error names what was wrong.
  static std::optional<Params> FromJson(std::string_view json, std::string* error = nullptr);

  Params(const Params& other);
  Params& operator=(const Params& other);
  Params(Params&&) noexcept;
  Params& operator=(Params&&) noexcept;
  ~Params();

  bool Has(std::string_view key) const;
  bool empty() const;

  // Typed reads: the value when `key` holds that type, else nullopt. Integers are read from
  // whole-valued numbers.
  std::optional<double> GetDouble(std::string_view key) const;
  std::optional<int64_t> GetInt(std::string_view key) const;
  std::optional<bool> GetBool(std::string_view key) const;
  std::optional<std::string> GetString(std::string_view key) const;
  // A nested object (for example `parameters["<executor name>"]`); empty when absent.
  Params GetObject(std::string_view key) const;

  double Get(std::string_view key, double fallback) const;
  int64_t Get(std::string_view key, int64_t fallback) const;
  int Get(std::string_view key, int fallback) const;
  bool Get(std::string_view key, bool fallback) const;
  std::string Get(std::string_view key, const char* fallback) const;

  std::string ToJson() const;
  const google::protobuf::Struct& proto() const { return *object_; }

 private:
  std::shared_ptr<const google::protobuf::Struct> owned_;  // co-owned by copies of this view
  const google::protobuf::Struct* object_;
};

// An Executor's `uses_with` configuration reads like request parameters.
using Config = Params;

}  // namespace shoal

#endif  // SHOAL_PARAMS_H_
