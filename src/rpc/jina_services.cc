#include "src/rpc/jina_services.h"

#include <utility>

#include "src/rpc/auth.h"

namespace shoal::rpc {

grpc::ServerUnaryReactor* DiscoveryService::endpoint_discovery(
    grpc::CallbackServerContext* context, const google::protobuf::Empty* /*request*/,
    jina::EndpointsProto* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Admit(context, reactor, token_)) return reactor;
  discover_([reactor, response](StatusOr<jina::EndpointsProto> result) {
    if (!result.ok()) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(result.status().message())));
      return;
    }
    *response = std::move(result).value();
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* InfoService::_status(grpc::CallbackServerContext* context,
                                               const google::protobuf::Empty* /*request*/,
                                               jina::JinaInfoProto* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Admit(context, reactor, token_)) return reactor;
  fill_(*response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* OpenStream(
    grpc::CallbackServerContext* context, const std::string& token, const MakeStream& make) {
  if (grpc::Status auth = CheckAuth(*context, token); !auth.ok()) {
    return new RefusedStream<grpc::ByteBuffer, grpc::ByteBuffer>(auth);
  }
  CallStream* stream = make(context);
  stream->Start();
  return stream;
}

}  // namespace shoal::rpc
