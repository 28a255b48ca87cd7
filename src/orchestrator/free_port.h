// Ports picked before a process binds them: the Raft transports, whose addresses every member
// of a group must know before any of them starts.
#ifndef SHOAL_ORCHESTRATOR_FREE_PORT_H_
#define SHOAL_ORCHESTRATOR_FREE_PORT_H_

#include <string>

#include "shoal/status.h"

namespace shoal::orchestrator {

// A port of `host` (an IPv4 address) that is free now, chosen at random below the kernel's
// ephemeral range, so that the many processes binding port 0 on this machine (replicas' gRPC
// ports among them) cannot be handed it before its process binds it. A rare collision with
// another picker is the caller's to retry. Safe to call from several threads at once.
StatusOr<int> PickFreePort(const std::string& host);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_FREE_PORT_H_
