// ReadGrpcServerOptions: each option is an integer of bytes, -1 or more (0 would refuse every
// message, which is never what is meant).
#include "src/config/grpc_server_options.h"

#include <climits>
#include <cmath>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "src/common/strings.h"
#include "src/config/deployment_spec.h"
#include "src/config/yaml_value.h"

namespace shoal::config {
namespace {

constexpr std::string_view kReceive = "grpc.max_receive_message_length";
constexpr std::string_view kSend = "grpc.max_send_message_length";

absl::Status Error(std::string_view location, std::string_view key, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", location, key, message));
}

absl::StatusOr<int> Bytes(const google::protobuf::Value& value, std::string_view location,
                          std::string_view key) {
  double number = NAN;
  if (value.has_number_value()) {
    number = value.number_value();
  } else if (value.has_string_value()) {
    int parsed = 0;
    if (absl::SimpleAtoi(AsAbsl(value.string_value()), &parsed)) number = parsed;
  }
  if (std::trunc(number) == number && number >= 1 && number <= INT_MAX) {
    return static_cast<int>(number);
  }
  if (number == -1) return -1;
  return Error(location, key,
               absl::StrFormat("expected a size in bytes from 1 to %d, or -1 for no limit; got %s",
                               INT_MAX, DescribeValue(value)));
}

}  // namespace

absl::StatusOr<GrpcServerLimits> ReadGrpcServerOptions(const google::protobuf::Value& value,
                                                       std::string_view location,
                                                       std::string_view key) {
  GrpcServerLimits limits;
  if (value.has_null_value()) return limits;
  if (!value.has_struct_value()) {
    return Error(location, key,
                 absl::StrFormat("expected a map of gRPC options, got %s", DescribeValue(value)));
  }
  for (const auto& [name, option] : value.struct_value().fields()) {
    const std::string child = ChildKey(key, name);
    if (name == kReceive) {
      auto bytes = Bytes(option, location, child);
      if (!bytes.ok()) return bytes.status();
      limits.max_receive_message_bytes = *bytes;
    } else if (name == kSend) {
      auto bytes = Bytes(option, location, child);
      if (!bytes.ok()) return bytes.status();
      limits.max_send_message_bytes = *bytes;
    } else {
      return Error(location, child,
                   absl::StrFormat("unknown gRPC server option; Shoal reads %s and %s",
                                   AsAbsl(kReceive), AsAbsl(kSend)));
    }
  }
  return limits;
}

}  // namespace shoal::config
