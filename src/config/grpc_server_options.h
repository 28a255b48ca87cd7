// Jina's `grpc_server_options` key (a map of gRPC channel arguments for a server): Shoal honours
// the two message size limits and refuses any other option, so that none is silently ignored.
#ifndef SHOAL_CONFIG_GRPC_SERVER_OPTIONS_H_
#define SHOAL_CONFIG_GRPC_SERVER_OPTIONS_H_

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace shoal::config {

// Defaults of the request limits every server applies (replicas, gRPC and HTTP gateways).
// 64 MiB: room for a batch of images (64 RGB 256x256 float32 tensors are 48 MiB), while a few
// such requests at once cannot exhaust a replica. Jina passes -1 (no limit); gRPC's own 4 MiB
// default breaks image batches.
inline constexpr int kDefaultMaxReceiveMessageBytes = 64 << 20;
// Docs one request may carry (over HTTP, matches and chunks included); `max_docs_per_request`.
inline constexpr int kDefaultMaxDocsPerRequest = 10000;

// Bytes; -1: no limit; unset: the server's default (64 MiB received, no send limit).
struct GrpcServerLimits {
  std::optional<int> max_receive_message_bytes;  // grpc.max_receive_message_length
  std::optional<int> max_send_message_bytes;     // grpc.max_send_message_length
  bool operator==(const GrpcServerLimits&) const = default;
};

// Reads `{grpc.max_receive_message_length: N, grpc.max_send_message_length: N}` (null: none).
// Errors are InvalidArgument "location: key.option: message", naming the options Shoal reads.
absl::StatusOr<GrpcServerLimits> ReadGrpcServerOptions(const google::protobuf::Value& value,
                                                       std::string_view location,
                                                       std::string_view key);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_GRPC_SERVER_OPTIONS_H_
