// RaftMembership, replica side: changes are handed to the StatefulReplica.
#include "src/replica/membership.h"

#include <grpcpp/grpcpp.h>

#include <string>

#include "src/rpc/auth.h"
#include "src/rpc/status.h"

namespace shoal::replica {
grpc::ServerUnaryReactor* MembershipService::AddVoter(grpc::CallbackServerContext* context,
                                                      const shoal::v1::AddVoterRequest* request,
                                                      shoal::v1::MembershipResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!rpc::Admit(context, reactor, token_)) return reactor;
  if (request->id().empty() || request->address().empty()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "AddVoter needs an id and an address"));
    return reactor;
  }
  replica_->AddVoter(request->id(), request->address(),
                     [context, reactor, response, this](Status status) {
                       if (status.ok()) response->set_leader_id(replica_->id());
                       reactor->Finish(rpc::ToGrpc(status, *context));
                     });
  return reactor;
}

grpc::ServerUnaryReactor* MembershipService::RemoveServer(
    grpc::CallbackServerContext* context, const shoal::v1::RemoveServerRequest* request,
    shoal::v1::MembershipResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!rpc::Admit(context, reactor, token_)) return reactor;
  if (request->id().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "RemoveServer needs an id"));
    return reactor;
  }
  replica_->RemoveServer(request->id(), request->force(),
                         [context, reactor, response, this](Status status) {
                           if (status.ok()) response->set_leader_id(replica_->id());
                           reactor->Finish(rpc::ToGrpc(status, *context));
                         });
  return reactor;
}

}  // namespace shoal::replica
