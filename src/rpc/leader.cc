#include "src/rpc/leader.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "src/rpc/status.h"

namespace shoal::rpc {
namespace {

// The absl::Status payload that carries the mark through the replica's code.
constexpr char kLeaderPayload[] = "type.shoal.dev/rpc.NotLeader";

}  // namespace

Status NotLeaderError(const std::string& message, const std::string& leader_address) {
  Status status = absl::UnavailableError(message);
  status.SetPayload(kLeaderPayload, absl::Cord(leader_address));
  return status;
}

bool IsNotLeader(const Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kLeaderPayload).has_value();
}

bool RefusedAsNotLeader(const grpc::ClientContext& context) {
  return context.GetServerTrailingMetadata().count(kLeaderKey) > 0;
}

std::vector<std::pair<std::string, std::string>> TrailingMetadataFor(const Status& status) {
  if (status.code() != absl::StatusCode::kUnavailable) return {};
  auto leader = status.GetPayload(kLeaderPayload);
  if (!leader.has_value()) return {};
  return {{kLeaderKey, std::string(*leader)}};
}

grpc::Status ToGrpc(const Status& status, grpc::ServerContextBase& context) {
  for (const auto& [key, value] : TrailingMetadataFor(status)) {
    context.AddTrailingMetadata(key, value);
  }
  return ToGrpc(status);
}

}  // namespace shoal::rpc
