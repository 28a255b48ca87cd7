// StreamDocService: parse, dispatch (a stateful replica refuses write endpoints, waits for the
// leadership for linearizable reads), then one task on the executor thread that writes each
// document as the endpoint makes it and ends the call.
#include "src/replica/stream_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"
#include "src/replica/wire.h"
#include "src/rpc/auth.h"
#include "src/rpc/leader.h"
#include "src/rpc/server_stream.h"
#include "src/rpc/single_doc.h"
#include "src/rpc/status.h"

namespace shoal::replica {
namespace {

constexpr std::string_view kStreamRpc = "jina.JinaSingleDocumentRequestRPC/stream_doc";

// What the endpoint writes to: every document becomes a message with the request's head.
class StreamWriter : public DocWriter {
 public:
  StreamWriter(std::shared_ptr<rpc::ServerStream> stream, std::string head)
      : stream_(std::move(stream)), head_(std::move(head)) {}

  bool Write(const Doc& doc) override {
    return stream_->Write(rpc::DocMessage(head_, doc.proto()));
  }
  bool cancelled() const override { return stream_->cancelled(); }

 private:
  const std::shared_ptr<rpc::ServerStream> stream_;
  const std::string head_;
};

// One stream_doc call from its dispatch to its end; shared by the tasks that serve it.
struct Call {
  std::shared_ptr<rpc::ServerStream> stream;
  jina::DataRequestProto request;
  std::string head;
};

// Runs on the executor thread.
void Serve(ReplicaRuntime& runtime, Call& call, ReplicaRuntime::Clock::time_point arrived) {
  if (call.stream->cancelled()) {
    runtime.CountDropped();
    call.stream->Finish(grpc::Status::CANCELLED);
    return;
  }
  StreamWriter writer(call.stream, call.head);
  StatusOr<bool> failed = runtime.ProcessStream(call.request, writer, arrived);
  if (!failed.ok()) {
    call.stream->Finish(rpc::ToGrpc(failed.status()));
    return;
  }
  if (*failed) {
    // As Jina's workers: one last message carries the error, and the call itself ends OK.
    call.stream->Write(rpc::HeadMessage(rpc::MessageHead(call.request)));
  }
  call.stream->Finish(grpc::Status::OK);
}

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamDocService::stream_doc(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes) {
  std::shared_ptr<rpc::ServerStream> stream = rpc::ServerStream::Make({.context = context});
  grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor = stream->reactor();
  if (grpc::Status auth = rpc::CheckAuth(*context, token_); !auth.ok()) {
    stream->Finish(auth);
    return reactor;
  }
  jina::SingleDocumentRequestProto single;
  if (Status parsed = ParseRequest(*bytes, single, kStreamRpc); !parsed.ok()) {
    stream->Finish(rpc::ToGrpc(parsed));
    return reactor;
  }
  auto call = std::make_shared<Call>();
  call->stream = stream;
  call->head = rpc::MessageHead(single);
  call->request = rpc::ToDataRequest(single);
  const std::string& endpoint = call->request.header().exec_endpoint();
  if (dispatcher_->Replicates(endpoint)) {
    stream->Finish(grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat(AsAbsl(kStreamRpc), ": '", endpoint,
                     "' is a write endpoint of a stateful Deployment; writes go through "
                     "process_single_data or Call, streams are reads")));
    return reactor;
  }
  const jina::DataRequestProto& request = call->request;
  dispatcher_->Dispatch(
      request,
      [runtime = runtime_, call]() mutable {
        Status posted = runtime->PostRequest(
            [runtime, call, arrived = ReplicaRuntime::Clock::now(),
             in_flight = InFlight(runtime->in_flight())] { Serve(*runtime, *call, arrived); });
        if (!posted.ok()) call->stream->Finish(rpc::ToGrpc(posted));
      },
      [call](StatusOr<WriteAnswer> answer) {
        // Only a linearizable read that could not confirm the leadership ends here, maybe after
        // the client left: the stream adds the leader hint while the call still lives.
        if (answer.ok()) {
          call->stream->Finish(
              grpc::Status(grpc::StatusCode::INTERNAL, "a stream got a write's answer"));
          return;
        }
        call->stream->Finish(rpc::ToGrpc(answer.status()),
                             rpc::TrailingMetadataFor(answer.status()));
      });
  return reactor;
}

}  // namespace shoal::replica
