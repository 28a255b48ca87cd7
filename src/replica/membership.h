// The RaftMembership service (proto/shoal/v1/raft.proto) that every stateful replica serves:
// membership changes of its shard's Raft group. membership_client.h is the calling side.
#ifndef SHOAL_REPLICA_MEMBERSHIP_H_
#define SHOAL_REPLICA_MEMBERSHIP_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "shoal/status.h"
#include "shoal/v1/raft.grpc.pb.h"
#include "src/replica/stateful.h"

namespace shoal::replica {

// Serves RaftMembership for one stateful replica, which outlives it. Changes run on the
// replica's submit thread; a follower answers UNAVAILABLE "not the leader ...".
class MembershipService : public shoal::v1::RaftMembership::CallbackService {
 public:
  // `token`: when set, every call must carry `authorization: Bearer <token>`.
  MembershipService(StatefulReplica* replica, std::string token)
      : replica_(replica), token_(std::move(token)) {}

  grpc::ServerUnaryReactor* AddVoter(grpc::CallbackServerContext* context,
                                     const shoal::v1::AddVoterRequest* request,
                                     shoal::v1::MembershipResponse* response) override;
  grpc::ServerUnaryReactor* RemoveServer(grpc::CallbackServerContext* context,
                                         const shoal::v1::RemoveServerRequest* request,
                                         shoal::v1::MembershipResponse* response) override;

 private:
  StatefulReplica* const replica_;
  const std::string token_;
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_MEMBERSHIP_H_
