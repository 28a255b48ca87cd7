// The stateful side of a replica as its Dispatcher sees it: StatefulReplica, or a fake in tests.
#ifndef SHOAL_REPLICA_REPLICATED_LOG_H_
#define SHOAL_REPLICA_REPLICATED_LOG_H_

#include <string>

#include "absl/functional/any_invocable.h"
#include "shoal/status.h"

namespace shoal::replica {

// A replicated write's answer, serialized once where it was applied.
struct WriteAnswer {
  std::string bytes;             // the answered jina.DataRequestProto
  bool executor_failed = false;  // its header.status says ERROR (the caller gets is-error)
};

// What a replica's Dispatcher needs of the stateful side. Every `done` is called exactly once.
class ReplicatedLog {
 public:
  virtual ~ReplicatedLog() = default;
  // Replicates a write request, as the bytes it arrived as (a serialized DataRequestProto);
  // `done` gets the leader's answer or the error.
  virtual void Write(std::string request, absl::AnyInvocable<void(StatusOr<WriteAnswer>)> done) = 0;
  virtual bool linearizable_reads() const = 0;
  // Whether a linearizable read may run now without confirming the leadership (this replica
  // is the leader and its read lease holds).
  virtual bool ReadLeaseHolds() = 0;
  // OK once this replica confirmed it is the leader; UNAVAILABLE "not the leader" elsewhere.
  virtual void ConfirmLeader(absl::AnyInvocable<void(Status)> done) = 0;
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_REPLICATED_LOG_H_
