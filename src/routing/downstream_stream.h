// One JinaRPC/Call stream from the gateway to one replica, carrying the messages of one client
// call (see call_scope.h for why a stream belongs to a client call rather than to a replica).
// Messages are written one at a time in the order sent; each waits for the answer that carries
// its header's request_id (the first waiting one when several share an id), so a replica may
// answer in any order. Writes queue behind gRPC's flow control: what waits here is bounded by
// what the caller has in flight (a client stream's prefetch).
//
// To a replica that a Shoal orchestrator started (Address::batch_streams), the stream is a
// shoal.v1.DataBatchRPC/Call: what waits to be written goes out as one message, and answers come
// back in batches.
//
// When the stream ends (the replica failed, refused, or the call was cancelled), every message
// still waiting gets the stream's status, marked `unanswered`: a Call stream ends with a single
// status, which may belong to any of them. A message past its `expiry` (timeout_send) gets
// DEADLINE_EXCEEDED and its late answer is dropped; the stream then takes no new messages, and
// is cancelled once nothing on it waits any more.
#ifndef SHOAL_ROUTING_DOWNSTREAM_STREAM_H_
#define SHOAL_ROUTING_DOWNSTREAM_STREAM_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "src/routing/replica_set.h"

namespace shoal::routing {

inline constexpr char kCall[] = "/jina.JinaRPC/Call";

using TimePoint = std::chrono::system_clock::time_point;

// Thread-safe. Create with Open; lives until gRPC is done with it and nobody holds it.
class DownstreamStream : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public std::enable_shared_from_this<DownstreamStream> {
 public:
  struct Answer {
    grpc::Status status;
    grpc::ByteBuffer response;
    bool is_error = false;    // the answer's header says ERROR (an Executor error)
    bool unanswered = false;  // the stream ended before answering; `status` is the stream's
    bool not_leader = false;  // the stream ended refused "not the leader" (rpc/leader.h)
  };
  using Done = absl::AnyInvocable<void(Answer)>;

  // Starts the call at once. `deadline`: the client call's, if any.
  static std::shared_ptr<DownstreamStream> Open(
      std::shared_ptr<Endpoint> endpoint,
      const std::vector<std::pair<std::string, std::string>>& metadata,
      std::optional<TimePoint> deadline);

  // Queues `request`; `done` runs once, on a gRPC thread (never inside Send). False, and `done`
  // dropped, when the stream takes no more messages: send on a new one.
  bool Send(grpc::ByteBuffer request, std::optional<TimePoint> expiry, Done done);
  // Cancels the call: waiting messages get CANCELLED (unanswered).
  void Cancel() { context_.TryCancel(); }
  // No more messages will be sent: the stream half-closes once its writes are out.
  void Close();

  // Whether Send may still succeed.
  bool open() const;
  // Messages sent and not yet answered or expired.
  size_t waiting() const;
  const Endpoint& endpoint() const { return *endpoint_; }

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  // Use Open.
  explicit DownstreamStream(std::shared_ptr<Endpoint> endpoint);
  ~DownstreamStream() override;

 private:
  struct Waiting {
    Done done;  // empty once expired: the late answer is dropped
    std::string request_id;
  };

  void Start(const std::vector<std::pair<std::string, std::string>>& metadata,
             std::optional<TimePoint> deadline);
  // What to do after a change under `mu_`, outside it: start the next write, half-close, or
  // release the write side's hold (no more writes can start).
  enum class Next { kNothing, kWrite, kWritesDone, kRelease };
  struct Action {
    Next kind = Next::kNothing;
    grpc::ByteBuffer* write = nullptr;
  };
  Action NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Proceed(Action next);
  bool OpenLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Expire(bool fired);
  // Matches one answer to its message and runs its `done` (taking `answer`); false when it
  // matches none.
  bool Deliver(grpc::ByteBuffer& answer);
  // Takes the waiting message with `request_id` (the oldest), or returns false.
  bool TakeLocked(const std::string& request_id, Waiting& taken) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<Endpoint> endpoint_;
  grpc::ClientContext context_;
  grpc::ByteBuffer reading_;  // the read path's (one read at a time)
  mutable absl::Mutex mu_;
  std::shared_ptr<DownstreamStream> self_ ABSL_GUARDED_BY(mu_);  // until OnDone
  std::deque<grpc::ByteBuffer> writes_ ABSL_GUARDED_BY(mu_);     // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;      // Close() called
  bool ended_ ABSL_GUARDED_BY(mu_) = false;        // the call is over (read or write failed)
  bool stale_ ABSL_GUARDED_BY(mu_) = false;        // a message expired: takes no more
  bool write_ended_ ABSL_GUARDED_BY(mu_) = false;  // no more writes start; hold released
  bool done_ ABSL_GUARDED_BY(mu_) = false;         // OnDone ran
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);  // by send order
  size_t live_ ABSL_GUARDED_BY(mu_) = 0;                      // waiting_ entries with a `done`
  // Request id -> its waiting messages, oldest first.
  std::map<std::string, std::deque<uint64_t>, std::less<>> by_id_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<TimePoint, uint64_t>> expiries_ ABSL_GUARDED_BY(mu_);  // send order
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_DOWNSTREAM_STREAM_H_
