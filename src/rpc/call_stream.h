// CallStream: the server side of a bidi stream of raw messages (Jina's JinaRPC/Call), with the
// stream mechanics written once. Requests are read ahead while fewer than `max_held` answers are
// in flight or unsent and fewer than `max_held_bytes` of answers wait unsent: a client that does
// not read its answers stops being read from (flow control), so that they cannot pile up. Each
// request goes to Handle, whose answer is written back as it completes, or in request order
// when `in_order` is set. A request whose handling fails ends the stream with that status once
// the answers before it are out.
//
// Lifetime rules:
//  - Create with `new`, call Start() once the object is fully built (it starts the first read,
//    after which gRPC may call back on any thread), and hand it to gRPC; OnDone deletes it.
//  - Every Handle(sequence, ...) must be answered by exactly one Complete(sequence, ...), from
//    any thread. Until then the stream stays alive (it cannot finish with a request in flight).
//  - Complete may finish the stream, after which gRPC deletes it: the calling thread must not
//    touch the object once Complete returns.
//  - Finish is called exactly once, outside the lock, as the last thing the calling thread does.
#ifndef SHOAL_RPC_CALL_STREAM_H_
#define SHOAL_RPC_CALL_STREAM_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shoal/status.h"

namespace shoal::rpc {

class CallStream : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  struct Options {
    // Answers held for the stream: in flight, or finished but not yet sent.
    size_t max_held = 64;
    // Bytes of answers finished but not yet sent.
    size_t max_held_bytes = 64 << 20;
    // Write answers in request order (else as they complete).
    bool in_order = false;
    // Messages are shoal.v1.DataRequestBatch (batch_frames.h): each read carries requests, each
    // write the answers that wait (the one-at-a-time write of a stream becomes a batch).
    bool batched = false;
  };

  // `context` is the call's; it outlives the stream.
  CallStream(grpc::CallbackServerContext* context, const Options& options);
  CallStream(const CallStream&) = delete;
  CallStream& operator=(const CallStream&) = delete;

  // Starts reading. Once, after construction (a subclass's members must be ready).
  void Start();

  void OnReadDone(bool ok) final;
  void OnWriteDone(bool ok) final;
  void OnCancel() final {
    cancelled_.store(true);
    Cancelled();
  }
  void OnDone() final { delete this; }

 protected:
  ~CallStream() override = default;

  // Handles request number `sequence` (1, 2, ... in the order read). Called on a gRPC thread,
  // after the next read started; must lead to exactly one Complete(sequence, ...).
  virtual void Handle(uint64_t sequence, grpc::ByteBuffer request) = 0;

  // The answer to request `sequence`, or the error that ends the stream (finished through
  // ToGrpc(status, context), so a "not the leader" error keeps its metadata). Any thread; see
  // the lifetime rules above.
  void Complete(uint64_t sequence, StatusOr<grpc::ByteBuffer> answer);

  // Whether the client cancelled the stream (or the server's shutdown did).
  bool cancelled() const { return cancelled_.load(); }
  // Runs once when the client cancels the stream, goes away or its deadline passes (the stream
  // is still alive): the place to cancel work started for it. On a gRPC thread.
  virtual void Cancelled() {}

  grpc::CallbackServerContext* context() const { return context_; }

 private:
  bool CanReadLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a paused read may start again; the caller then calls ResumeRead outside `mu_`.
  bool ResumeReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts a read that ResumeReadLocked allowed, then finishes the stream if that became due.
  void ResumeRead();
  // In request order: moves the answers whose turn came to the write queue.
  void UnparkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The status to Finish with when the stream is over (once), else nullopt.
  std::optional<grpc::Status> FinishIfDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a change under `mu_`: finishes the stream, or resumes reading, as `mu_` decided.
  void Proceed(std::optional<grpc::Status> finish, bool resume_read);
  // Starts writing what waits in `writes_` (batched: all of it, packed up to the batch bounds).
  void StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The requests a read carries: one (taken from `read`), or a batch's.
  StatusOr<std::vector<grpc::ByteBuffer>> Requests(grpc::ByteBuffer& read) const;

  grpc::CallbackServerContext* const context_;
  const Options options_;
  grpc::ByteBuffer reading_;  // owned by the read path (one read at a time)
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> writes_ ABSL_GUARDED_BY(mu_);  // front: being written
  // Batched: the answers packed in writes_.front() while it is written (else 1).
  size_t writing_answers_ ABSL_GUARDED_BY(mu_) = 1;
  // In request order: answers that wait for an earlier one, by sequence.
  std::map<uint64_t, grpc::ByteBuffer> parked_ ABSL_GUARDED_BY(mu_);
  size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of writes_ and parked_
  uint64_t received_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_to_write_ ABSL_GUARDED_BY(mu_) = 1;  // in request order
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool starting_read_ ABSL_GUARDED_BY(mu_) = false;  // a resumed read, until StartRead
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_CALL_STREAM_H_
