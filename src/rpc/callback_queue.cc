// HoldCallbackQueue: a channel that lives as long as the process, made to take its reference
// to the callback queue by one callback call that fails at once.
#include "src/rpc/callback_queue.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/base/call_once.h"

namespace shoal::rpc {

void HoldCallbackQueue() {
  static absl::once_flag once;
  absl::call_once(once, [] {
    // Without credentials gRPC makes a "lame" channel: every call on it fails at once, without
    // resolving or connecting anything. The reference is taken when the call starts, so nothing
    // waits for its end (this may run on one of the queue's own threads). The call's state
    // lives as long as the process, as the channel does.
    struct Lame {
      std::shared_ptr<grpc::Channel> channel =
          grpc::CreateCustomChannel("", nullptr, grpc::ChannelArguments());
      grpc::ClientContext context;
      grpc::Slice empty;
      grpc::ByteBuffer request{&empty, 1};  // a buffer with no slice is no message to gRPC
      grpc::ByteBuffer response;
    };
    static Lame* const lame = new Lame();
    grpc::GenericStub stub(lame->channel);
    stub.UnaryCall(&lame->context, "/shoal.v1.None/None", grpc::StubOptions(), &lame->request,
                   &lame->response, [](const grpc::Status&) {});
  });
}

}  // namespace shoal::rpc
