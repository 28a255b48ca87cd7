// The Jina services that a replica and a gateway serve alike: the raw (ByteBuffer) service bases,
// endpoint discovery, _status, and JinaRPC/Call over a CallStream. Each checks the call's token
// (auth.h) first; what they answer comes from the server that builds them.
#ifndef SHOAL_RPC_JINA_SERVICES_H_
#define SHOAL_RPC_JINA_SERVICES_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "jina.grpc.pb.h"
#include "shoal/status.h"
#include "shoal/v1/batch.grpc.pb.h"
#include "src/rpc/call_stream.h"

namespace shoal::rpc {

// The data services with raw methods: requests and answers stay bytes.
using SingleBase = jina::JinaSingleDataRequestRPC::WithRawCallbackMethod_process_single_data<
    jina::JinaSingleDataRequestRPC::Service>;
using DataBase =
    jina::JinaDataRequestRPC::WithRawCallbackMethod_process_data<jina::JinaDataRequestRPC::Service>;
using CallBase = jina::JinaRPC::WithRawCallbackMethod_Call<jina::JinaRPC::Service>;
using BatchCallBase =
    shoal::v1::DataBatchRPC::WithRawCallbackMethod_Call<shoal::v1::DataBatchRPC::Service>;
using StreamDocBase = jina::JinaSingleDocumentRequestRPC::WithRawCallbackMethod_stream_doc<
    jina::JinaSingleDocumentRequestRPC::Service>;

// A unary call's reactor that runs `on_cancel` when the client cancels the call, goes away or its
// deadline passes, so that the work started for the call stops with it. Create with `new` before
// starting that work and return it from the method; it deletes itself when the call is done.
class CancellableUnary : public grpc::ServerUnaryReactor {
 public:
  explicit CancellableUnary(absl::AnyInvocable<void()> on_cancel)
      : on_cancel_(std::move(on_cancel)) {}
  void OnCancel() override { on_cancel_(); }  // at most once
  void OnDone() override { delete this; }
  // Both reactions are short and never block (`on_cancel` must not either), so gRPC runs them
  // on the thread that completes the call instead of handing each call's end to its executor
  // threads: one thread wake-up less per call. (gRPC marks this hook internal; 1.51 honours it.)
  bool InternalInlineable() override { return true; }

 private:
  absl::AnyInvocable<void()> on_cancel_;
};

// jina.JinaDiscoverEndpointsRPC: `discover` answers through `done`, at once or later, on any
// thread; an error is answered UNAVAILABLE with its message.
class DiscoveryService : public jina::JinaDiscoverEndpointsRPC::CallbackService {
 public:
  using Done = absl::AnyInvocable<void(StatusOr<jina::EndpointsProto>)>;
  using Discover = std::function<void(Done done)>;

  DiscoveryService(std::string token, Discover discover)
      : token_(std::move(token)), discover_(std::move(discover)) {}

  grpc::ServerUnaryReactor* endpoint_discovery(grpc::CallbackServerContext* context,
                                               const google::protobuf::Empty* request,
                                               jina::EndpointsProto* response) override;

 private:
  const std::string token_;
  const Discover discover_;
};

// jina.JinaInfoRPC/_status: `fill` writes the answer.
class InfoService : public jina::JinaInfoRPC::CallbackService {
 public:
  using Fill = std::function<void(jina::JinaInfoProto&)>;

  InfoService(std::string token, Fill fill) : token_(std::move(token)), fill_(std::move(fill)) {}

  grpc::ServerUnaryReactor* _status(grpc::CallbackServerContext* context,
                                    const google::protobuf::Empty* request,
                                    jina::JinaInfoProto* response) override;

 private:
  const std::string token_;
  const Fill fill_;
};

// A Call stream (jina.JinaRPC/Call, or shoal.v1.DataBatchRPC/Call with `make` building a
// batched CallStream): a call that carries the token gets the stream `make` builds (and
// starts); one without is refused UNAUTHENTICATED before anything is read.
using MakeStream = std::function<CallStream*(grpc::CallbackServerContext*)>;
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* OpenStream(
    grpc::CallbackServerContext* context, const std::string& token, const MakeStream& make);

template <typename Base>
class StreamServiceOf : public Base {
 public:
  using Make = MakeStream;

  StreamServiceOf(std::string token, Make make)
      : token_(std::move(token)), make_(std::move(make)) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Call(
      grpc::CallbackServerContext* context) override {
    return OpenStream(context, token_, make_);
  }

 private:
  const std::string token_;
  const Make make_;
};

using StreamService = StreamServiceOf<CallBase>;
using BatchStreamService = StreamServiceOf<BatchCallBase>;

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_JINA_SERVICES_H_
