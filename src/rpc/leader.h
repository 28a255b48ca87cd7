// "Not the leader" as a typed signal. A stateful replica that is not its shard's Raft leader
// refuses a call with UNAVAILABLE and the trailing metadata key kLeaderKey, whose value is the
// leader's Raft address ("" when no leader is known); the error text stays for people. The
// replica marks the absl::Status (NotLeaderError), ToGrpc(status, context) turns the mark into
// metadata, and a caller reads it with RefusedAsNotLeader.
#ifndef SHOAL_RPC_LEADER_H_
#define SHOAL_RPC_LEADER_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>
#include <vector>

#include "shoal/status.h"

namespace shoal::rpc {

inline constexpr char kLeaderKey[] = "shoal-leader";

// UNAVAILABLE `message`, marked "not the leader" with the leader's address ("" if unknown).
Status NotLeaderError(const std::string& message, const std::string& leader_address);

// Whether `status` was made by NotLeaderError.
bool IsNotLeader(const Status& status);

// The trailing metadata ToGrpc(status, context) adds for `status` (the leader hint of a
// NotLeaderError), for a server that finishes its call later.
std::vector<std::pair<std::string, std::string>> TrailingMetadataFor(const Status& status);

// After a call finished: whether the server refused it as "not the leader".
bool RefusedAsNotLeader(const grpc::ClientContext& context);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_LEADER_H_
