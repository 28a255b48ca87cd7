// absl::Status -> grpc::Status for the replica's services: the codes are the same numbers.
#ifndef SHOAL_REPLICA_GRPC_STATUS_H_
#define SHOAL_REPLICA_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "shoal/status.h"

namespace shoal::replica {

inline grpc::Status ToGrpc(const Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_GRPC_STATUS_H_
