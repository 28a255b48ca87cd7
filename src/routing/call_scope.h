// What the router does for one client call, held together so that it ends with the call: the
// downstream calls are cancelled when the client cancels or disconnects (Cancel), and a client's
// Call stream reaches each replica over a JinaRPC/Call stream of its own (StreamTo).
//
// Why a downstream stream per (client stream, replica), opened on the first message routed to
// that replica, rather than one pooled stream per replica shared by every client: the client's
// deadline becomes the downstream stream's, a client that goes away cancels its own streams and
// nobody else's, the flow control of a slow client or replica stays on that client's streams
// (its prefetch bounds what they hold), and a stream that fails takes down one client's messages,
// which are resent elsewhere. Opening a stream costs one HTTP/2 stream on the replica's channel.
// Replica choice stays per message (ReplicaSet::Acquire), so one client stream spreads over the
// replicas by load, each message counted outstanding on its replica until answered.
#ifndef SHOAL_ROUTING_CALL_SCOPE_H_
#define SHOAL_ROUTING_CALL_SCOPE_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/routing/downstream_stream.h"
#include "src/routing/replica_set.h"

namespace shoal::routing {

// Thread-safe. Shared by everything routed for the call (a floating branch may outlive the
// client's call); the last holder half-closes the streams.
class CallScope {
 public:
  struct Options {
    // Data requests travel over Call streams (a client's Call stream); else as unary calls.
    bool streams = false;
    // The client call's deadline: the downstream streams'.
    std::optional<TimePoint> deadline;
  };
  explicit CallScope(Options options) : options_(std::move(options)) {}
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  // The client cancelled or went away: cancels every downstream call and stream, now and later.
  void Cancel();
  bool cancelled() const;

  // A unary call made for the client call: cancelled with it (at once if it already is). The
  // scope keeps no ownership; a context that is gone is forgotten.
  void Register(const std::shared_ptr<grpc::ClientContext>& context);

  bool streams() const { return options_.streams; }
  // The open stream to `endpoint` for this call, opened now if there is none (or the last one
  // takes no more messages). `metadata`: sent when a stream opens.
  std::shared_ptr<DownstreamStream> StreamTo(
      const std::shared_ptr<Endpoint>& endpoint,
      const std::vector<std::pair<std::string, std::string>>& metadata);

  // For tests: the streams opened so far and not replaced.
  std::vector<std::shared_ptr<DownstreamStream>> streams_for_test() const;

 private:
  const Options options_;
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<grpc::ClientContext>> contexts_ ABSL_GUARDED_BY(mu_);
  std::map<const Endpoint*, std::shared_ptr<DownstreamStream>> streams_ ABSL_GUARDED_BY(mu_);
  // Streams replaced in `streams_` (they took no more messages) that may still wait for answers.
  std::vector<std::weak_ptr<DownstreamStream>> replaced_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_CALL_SCOPE_H_
