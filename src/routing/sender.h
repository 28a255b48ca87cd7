// One routed call: sends serialized bytes to the least loaded replica of a ReplicaSet (or to the
// leader it learned for the endpoint) and, on a transport failure (UNAVAILABLE, or an attempt
// past its timeout), retries on a different replica within the attempt budget.
// Executor errors (an answer with is-error) are answers, never retried.
//
// With a CallScope whose client call is a Call stream, a data request travels as a message of
// the scope's Call stream to the chosen replica (call_scope.h); the answer's header says whether
// it is an Executor error. A stream that ends with a retryable status (UNAVAILABLE, a full
// queue, "not the leader") resends what it had not answered, each message on its own replica
// choice; one that ends with another error (a status that may be any waiting message's) sends
// each unanswered message again as a unary call, whose answer is that message's own.
#ifndef SHOAL_ROUTING_SENDER_H_
#define SHOAL_ROUTING_SENDER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "src/routing/call_scope.h"
#include "src/routing/replica_set.h"

namespace shoal::routing {

inline constexpr char kProcessSingleData[] = "/jina.JinaSingleDataRequestRPC/process_single_data";
inline constexpr char kProcessData[] = "/jina.JinaDataRequestRPC/process_data";

// Attempts in total for `retries` as Jina reads it: a negative value means max(3, replicas) + 1.
int AttemptsFor(int retries, size_t replicas);

struct SendOptions {
  std::string method = kProcessSingleData;
  int attempts = 1;
  // Per attempt; unset means none. The overall deadline (the caller's) bounds every attempt.
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::chrono::system_clock::time_point> deadline;
  std::vector<std::pair<std::string, std::string>> metadata;
  // The Executor endpoint: once a replica refused it as "not the leader" (a stateful shard's
  // follower) and another took it, later calls to it go to that one first.
  std::string endpoint;
  // The client call this is for: cancelled with it, and over its streams when it has them.
  std::shared_ptr<CallScope> scope;
};

struct SendResult {
  grpc::Status status;
  grpc::ByteBuffer response;
  std::multimap<std::string, std::string> trailing;  // the replica's trailing metadata
  std::string replica;                               // the address that answered (or failed last)
  int attempts = 0;
  bool is_error() const { return trailing.count("is-error") > 0; }
};

// Sends `request` and calls `done` exactly once, on a gRPC thread. Never blocks.
void Send(ReplicaSet& replicas, grpc::ByteBuffer request, SendOptions options,
          absl::AnyInvocable<void(SendResult)> done);

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_SENDER_H_
