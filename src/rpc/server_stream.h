// ServerStream: the server side of a server-streaming call of raw messages (Jina's stream_doc),
// with its flow control written once. Producers (a replica's executor thread, a gateway's
// callbacks) hand it messages; it writes them one at a time as the client reads them. At most
// `max_queued` messages or `max_queued_bytes` wait unsent: Write blocks until there is room,
// TryWrite never blocks (its caller bounds itself, e.g. by reading its source only on OnSent).
//
// Lifetime rules:
//  - Make() builds it; the handler returns reactor() to gRPC, which deletes the reactor after
//    the call is done. The ServerStream object itself is shared (producers hold it), so it may
//    outlive the call: every method is safe to call at any time, and does nothing (or returns
//    false) once the call is over.
//  - Finish(status) is called once by the producer when it has written everything; the status
//    goes out after the queued messages. A cancelled call (the client went away, its deadline
//    passed, the server shut down) finishes by itself.
#ifndef SHOAL_RPC_SERVER_STREAM_H_
#define SHOAL_RPC_SERVER_STREAM_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace shoal::rpc {

// Thread-safe.
class ServerStream : public std::enable_shared_from_this<ServerStream> {
 public:
  struct Options {
    size_t max_queued = 4;
    size_t max_queued_bytes = 4 << 20;
    // Called (outside any lock, on a gRPC thread) after each message went out, so that a
    // producer that does not block can fetch the next one.
    std::function<void()> on_sent;
    // Called once (outside any lock) when the call is cancelled.
    std::function<void()> on_cancel;
    // The call's context: trailing metadata of Finish goes there, and a writer that waited
    // `max_write_wait` for room cancels the call through it. Outlives the stream's reactor.
    grpc::CallbackServerContext* context = nullptr;
    // How long Write waits for the client to read; past it the call is cancelled (a client that
    // keeps its connection open and reads nothing must not hold the producer forever).
    absl::Duration max_write_wait = absl::Seconds(60);
  };

  // A stream for one call; return reactor() from the handler. A call refused at once (bad
  // token, unreadable request) is Finish()ed before that.
  static std::shared_ptr<ServerStream> Make(Options options);
  ~ServerStream();

  // The reactor to hand to gRPC; call once, in the handler.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor();

  // Queues `message`, waiting while the queue is full. False (the message dropped) once the call
  // is cancelled or finished; a producer stops then.
  bool Write(grpc::ByteBuffer message);
  // Queues `message` without waiting; false once the call is cancelled or finished.
  bool TryWrite(grpc::ByteBuffer message);
  // Ends the call with `status` once the queued messages are out, with `trailing` metadata (added
  // to Options::context just before). Once; later calls do nothing.
  void Finish(grpc::Status status, std::vector<std::pair<std::string, std::string>> trailing = {});
  // Whether the call was cancelled (or ended): what is written now is dropped.
  bool cancelled() const;
  // Messages queued and not yet sent (the one being written included).
  size_t queued() const;

  class Reactor;

 private:
  friend class Reactor;
  explicit ServerStream(Options options) : options_(std::move(options)) {}
  bool Enqueue(grpc::ByteBuffer message, bool wait);
  void StallCancelLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts writing the next message or finishes the call, if either is due. Called without the
  // lock held, after a change.
  void Pump();
  void OnWriteDone(bool ok);
  void OnCancel();
  void OnDone();

  const Options options_;
  mutable absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;  // null once gRPC is done with the call
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ByteBuffer writing_ ABSL_GUARDED_BY(mu_);  // the message gRPC is writing
  bool write_started_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_asked_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;    // Finish called on the reactor
  bool cancelling_ ABSL_GUARDED_BY(mu_) = false;  // StallCancelLocked is in TryCancel
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> trailing_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_SERVER_STREAM_H_
