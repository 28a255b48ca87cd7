// One stream_doc call from the gateway to a replica of a Deployment: the least loaded healthy
// replica of a shard (ReplicaSet), a retry on another one when the call fails UNAVAILABLE before
// anything arrived, and flow control: the next message is read only when the caller asks for
// it, so a slow client slows the replica's endpoint down (its DocWriter blocks) instead of
// messages piling up in the gateway.
#ifndef SHOAL_ROUTING_STREAM_DOC_H_
#define SHOAL_ROUTING_STREAM_DOC_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "src/routing/deployment_router.h"
#include "src/routing/replica_set.h"

namespace shoal::routing {

// Thread-safe. Held by its caller (shared_ptr); it keeps itself alive while the call runs.
// States: reading -> (paused after each message until Next) -> done (on_done called once).
class DocStream : public std::enable_shared_from_this<DocStream> {
 public:
  struct Callbacks {
    // Each message in order, on a gRPC thread. The next one is read after Next().
    std::function<void(grpc::ByteBuffer message)> on_message;
    // Once, after the last message: OK when the replica ended the stream normally, else the
    // failure naming the replica. CANCELLED after Cancel().
    std::function<void(grpc::Status status)> on_done;
  };

  // A call of `endpoint` on one shard of `router` (shards in turn), with the router's retries;
  // `deadline` (the client's) bounds it. Begin() starts it.
  static std::shared_ptr<DocStream> Make(
      DeploymentRouter& router, std::string_view endpoint, grpc::ByteBuffer request,
      std::optional<std::chrono::system_clock::time_point> deadline, Callbacks callbacks);

  void Begin();
  // Reads the next message. Called during on_message, the read starts once on_message returned,
  // so that messages are handed over one at a time, in order. Does nothing once done or while
  // reading.
  void Next();
  // Cancels the call at the replica (TryCancel): its endpoint sees DocWriter::cancelled().
  void Cancel();

  class Attempt;

 private:
  DocStream(ReplicaSet& set, grpc::ByteBuffer request, SendOptions options, Callbacks callbacks)
      : set_(set),
        request_(std::move(request)),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)) {}
  void StartAttempt();
  void Received(Attempt* attempt, grpc::ByteBuffer message);
  void AttemptDone(Attempt* attempt, grpc::Status status);

  ReplicaSet& set_;
  const grpc::ByteBuffer request_;
  const SendOptions options_;
  const Callbacks callbacks_;
  absl::Mutex mu_;
  Attempt* attempt_ ABSL_GUARDED_BY(mu_) = nullptr;  // the call running now
  bool paused_ ABSL_GUARDED_BY(mu_) = false;         // a message delivered, no read pending
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;     // on_message runs
  bool next_asked_ ABSL_GUARDED_BY(mu_) = false;     // Next() came while it ran
  bool received_ ABSL_GUARDED_BY(mu_) = false;       // some message arrived (no more retries)
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t tried_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<DocStream> self_ ABSL_GUARDED_BY(mu_);  // while a call runs
};

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_STREAM_DOC_H_
