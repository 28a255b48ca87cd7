// HoldCallbackQueue: a channel that lives as long as the process, made to take its reference
// to the callback queue by one callback call that fails at once.
#include "src/rpc/callback_queue.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/base/call_once.h"
#include "absl/synchronization/notification.h"

namespace shoal::rpc {

void HoldCallbackQueue() {
  static absl::once_flag once;
  absl::call_once(once, [] {
    // Without credentials gRPC makes a "lame" channel: every call on it fails at once, without
    // resolving or connecting anything.
    static auto* const channel = new std::shared_ptr<grpc::Channel>(
        grpc::CreateCustomChannel("", nullptr, grpc::ChannelArguments()));
    grpc::ClientContext context;
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1);  // a buffer with no slice is no message to gRPC
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::GenericStub stub(*channel);
    stub.UnaryCall(&context, "/shoal.v1.None/None", grpc::StubOptions(), &request, &response,
                   [&done](const grpc::Status&) { done.Notify(); });
    done.WaitForNotification();
  });
}

}  // namespace shoal::rpc
