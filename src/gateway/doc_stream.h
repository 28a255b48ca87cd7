// Streams through a Flow: a stream_doc request (one document) walks the graph like any request
// until the first Deployment that streams the endpoint (a generator endpoint, as its discovery
// says); that one is called over stream_doc, and each document it writes continues through the
// rest of the graph as a one-document request, reaching the client as soon as it is through, in
// the order written. Without a streaming Deployment the answer's documents are sent one by one.
// Jina streams through a single Executor only; Shoal's graph may have any nodes before and
// after, provided everything after the streaming node follows from it (no join with a branch
// that does not).
#ifndef SHOAL_GATEWAY_DOC_STREAM_H_
#define SHOAL_GATEWAY_DOC_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "jina.pb.h"
#include "shoal/status.h"
#include "src/gateway/gateway.h"
#include "src/rpc/jina_services.h"

namespace shoal::gateway {

// Where a stream's messages go: the gRPC server stream, an HTTP response of server-sent events.
// Thread-safe.
class DocStreamSink {
 public:
  virtual ~DocStreamSink() = default;
  // One serialized SingleDocumentRequestProto; never blocks.
  virtual void Send(grpc::ByteBuffer message) = 0;
  // Messages sent and not yet out to the client: the stream reads its source only while few are.
  virtual size_t Unsent() const = 0;
  // The end: OK after the last message (an Executor error included, as its last message), or
  // the failure that ends the stream early. Called once.
  virtual void Finish(grpc::Status status) = 0;
};

class DocStreamRun;

// Thread-safe. Borrows the gateway; learns, per endpoint, where the graph streams.
class DocStreamer {
 public:
  explicit DocStreamer(Gateway* gateway) : gateway_(gateway) {}
  ~DocStreamer();

  // A stream of `request` to `sink`; nothing runs before Start(). The sink calls Resume() when
  // messages went out, and Cancel() when the client is gone.
  std::shared_ptr<DocStreamRun> Prepare(jina::SingleDocumentRequestProto request, Deadline deadline,
                                        std::shared_ptr<DocStreamSink> sink);

  struct Plan;

 private:
  StatusOr<std::shared_ptr<const Plan>> PlanFor(const std::string& endpoint);

  Gateway* const gateway_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const Plan>> plans_ ABSL_GUARDED_BY(mu_);
};

// One stream. Thread-safe; owned by the callbacks that drive it.
class DocStreamRun : public std::enable_shared_from_this<DocStreamRun> {
 public:
  virtual ~DocStreamRun() = default;
  virtual void Start() = 0;
  // Messages went out: the source may be read again.
  virtual void Resume() = 0;
  // The client is gone: the streaming replica's call is cancelled.
  virtual void Cancel() = 0;
};

// jina.JinaSingleDocumentRequestRPC/stream_doc of the gateway. Thread-safe.
class StreamDocService : public rpc::StreamDocBase {
 public:
  StreamDocService(Gateway* gateway, std::string token)
      : streamer_(gateway), token_(std::move(token)) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* stream_doc(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request) override;

  DocStreamer& streamer() { return streamer_; }

 private:
  DocStreamer streamer_;
  const std::string token_;
};

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_DOC_STREAM_H_
