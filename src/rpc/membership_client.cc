// RaftMembership, calling side: tries the shard's replicas in rounds until the leader takes the
// change.
#include "src/rpc/membership_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shoal/v1/raft.grpc.pb.h"

namespace shoal::rpc {
namespace {

using Call = std::function<grpc::Status(shoal::v1::RaftMembership::Stub&, grpc::ClientContext&)>;

Status CallLeader(const std::vector<std::string>& replicas, absl::Duration timeout,
                  const rpc::ChannelSecurity& security, const std::string& what, const Call& call) {
  if (replicas.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": no replica to ask"));
  }
  const absl::Time deadline = absl::Now() + timeout;
  grpc::Status last;
  std::string last_replica;
  // Bounded by the deadline; each attempt by its own (at most 10 s).
  while (absl::Now() < deadline) {
    for (const std::string& address : replicas) {
      StatusOr<std::shared_ptr<grpc::Channel>> channel =
          rpc::CreateChannel(address, security, grpc::ChannelArguments());
      if (!channel.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": ", channel.status().message()));
      }
      auto stub = shoal::v1::RaftMembership::NewStub(*channel);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(std::min(deadline, absl::Now() + absl::Seconds(10))));
      last = call(*stub, context);
      last_replica = address;
      if (last.ok()) return absl::OkStatus();
      const bool retry = last.error_code() == grpc::StatusCode::UNAVAILABLE ||
                         last.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      if (!retry) {
        return Status(static_cast<absl::StatusCode>(last.error_code()),
                      absl::StrCat(what, ": ", address, ": ", last.error_message()));
      }
      if (absl::Now() >= deadline) break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::UnavailableError(absl::StrCat(what, ": no leader took it within ",
                                             absl::FormatDuration(timeout), "; last answer from ",
                                             last_replica, ": ", last.error_message()));
}

}  // namespace

Status AddVoterVia(const std::vector<std::string>& replicas, const std::string& id,
                   const std::string& raft_address, absl::Duration timeout,
                   const rpc::ChannelSecurity& security) {
  shoal::v1::AddVoterRequest request;
  request.set_id(id);
  request.set_address(raft_address);
  return CallLeader(replicas, timeout, security, absl::StrCat("adding Raft member '", id, "'"),
                    [&](shoal::v1::RaftMembership::Stub& stub, grpc::ClientContext& context) {
                      shoal::v1::MembershipResponse response;
                      return stub.AddVoter(&context, request, &response);
                    });
}

Status RemoveServerVia(const std::vector<std::string>& replicas, const std::string& id,
                       absl::Duration timeout, const rpc::ChannelSecurity& security, bool force) {
  shoal::v1::RemoveServerRequest request;
  request.set_id(id);
  request.set_force(force);
  return CallLeader(replicas, timeout, security, absl::StrCat("removing Raft member '", id, "'"),
                    [&](shoal::v1::RaftMembership::Stub& stub, grpc::ClientContext& context) {
                      shoal::v1::MembershipResponse response;
                      return stub.RemoveServer(&context, request, &response);
                    });
}

}  // namespace shoal::rpc
