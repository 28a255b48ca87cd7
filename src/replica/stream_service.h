// The replica's jina.JinaSingleDocumentRequestRPC/stream_doc: one document in, the documents its
// endpoint writes out, each as a SingleDocumentRequestProto with the request's header,
// parameters and routes. The endpoint runs on the executor thread and blocks in DocWriter::Write
// while the client has not read what was written (rpc::ServerStream's bounded queue).
#ifndef SHOAL_REPLICA_STREAM_SERVICE_H_
#define SHOAL_REPLICA_STREAM_SERVICE_H_

#include <string>

#include "src/replica/dispatcher.h"
#include "src/replica/runtime.h"
#include "src/rpc/jina_services.h"

namespace shoal::replica {

// Thread-safe; borrows the runtime and the dispatcher, which outlive the server.
class StreamDocService : public rpc::StreamDocBase {
 public:
  StreamDocService(ReplicaRuntime* runtime, const Dispatcher* dispatcher, std::string token)
      : runtime_(runtime), dispatcher_(dispatcher), token_(std::move(token)) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* stream_doc(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request) override;

 private:
  ReplicaRuntime* const runtime_;
  const Dispatcher* const dispatcher_;
  const std::string token_;
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_STREAM_SERVICE_H_
