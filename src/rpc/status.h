// absl::Status -> grpc::Status for Shoal's services: the codes are the same numbers.
#ifndef SHOAL_RPC_STATUS_H_
#define SHOAL_RPC_STATUS_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <string>

#include "shoal/status.h"

namespace shoal::rpc {

inline grpc::Status ToGrpc(const Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// The same, and a status marked "not the leader" (leader.h) also sets the call's kLeaderKey
// trailing metadata: the one place a replica says so.
grpc::Status ToGrpc(const Status& status, grpc::ServerContextBase& context);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_STATUS_H_
