// The calling side of RaftMembership (proto/shoal/v1/raft.proto): the orchestrator (scaling a
// Deployment) and a joining replica reach the shard's leader through any of its replicas. Kept
// apart from the replica runtime so that callers do not link the Raft library.
#ifndef SHOAL_RPC_MEMBERSHIP_CLIENT_H_
#define SHOAL_RPC_MEMBERSHIP_CLIENT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/rpc/tls.h"

namespace shoal::rpc {

// Sends the change to each replica of the shard (gRPC host:port) in turn, and again in rounds,
// until the leader accepts it or `timeout` passes (an election may be under way). The error
// names the last answer. `security`: TLS (internal_tls) and the Deployment's token. `force`:
// remove even below a quorum (see RemoveServerRequest.force).
Status AddVoterVia(const std::vector<std::string>& replicas, const std::string& id,
                   const std::string& raft_address, absl::Duration timeout,
                   const rpc::ChannelSecurity& security = {});
Status RemoveServerVia(const std::vector<std::string>& replicas, const std::string& id,
                       absl::Duration timeout, const rpc::ChannelSecurity& security = {},
                       bool force = false);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_MEMBERSHIP_CLIENT_H_
