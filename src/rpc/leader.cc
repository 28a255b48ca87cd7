#include "src/rpc/leader.h"

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

grpc::Status ToGrpc(const Status& status, grpc::ServerContextBase& context) {
  if (status.code() == absl::StatusCode::kUnavailable) {
    if (auto leader = status.GetPayload(kLeaderPayload); leader.has_value()) {
      context.AddTrailingMetadata(kLeaderKey, std::string(*leader));
    }
  }
  return ToGrpc(status);
}

}  // namespace shoal::rpc
