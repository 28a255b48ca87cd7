// Tests of the "not the leader" signal: a server's marked status reaches the caller as trailing
// metadata; an UNAVAILABLE that only says so in its text is not the signal.
#include "src/rpc/leader.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "src/rpc/server.h"
#include "src/rpc/status.h"

namespace shoal::rpc {
namespace {

// Answers jina.JinaInfoRPC/_status with `answer`.
class Refusing : public jina::JinaInfoRPC::CallbackService {
 public:
  explicit Refusing(Status answer) : answer_(std::move(answer)) {}
  grpc::ServerUnaryReactor* _status(grpc::CallbackServerContext* context,
                                    const google::protobuf::Empty* request,
                                    jina::JinaInfoProto* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpc(answer_, *context));
    return reactor;
  }

 private:
  const Status answer_;
};

// Calls a server answering `answer`; the call's status and whether it read as "not the leader".
std::pair<grpc::Status, bool> CallRefusing(const Status& answer) {
  Refusing service(answer);
  int port = 0;
  StatusOr<std::unique_ptr<grpc::Server>> server = StartServer(
      {.host = "127.0.0.1"},
      [&](grpc::ServerBuilder& builder) { builder.RegisterService(&service); },
      {jina::JinaInfoRPC::service_full_name()}, &port);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return {grpc::Status::CANCELLED, false};
  auto stub = jina::JinaInfoRPC::NewStub(
      grpc::CreateChannel(ListenAddress("127.0.0.1", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  google::protobuf::Empty empty;
  jina::JinaInfoProto info;
  grpc::Status status = stub->_status(&context, empty, &info);
  const bool not_leader = RefusedAsNotLeader(context);
  (*server)->Shutdown();
  return {status, not_leader};
}

TEST(LeaderTest, AMarkedRefusalReachesTheCallerWithItsText) {
  Status refusal =
      NotLeaderError("not the leader; the leader is 'rep-1' at 10.0.0.2:7000", "10.0.0.2:7000");
  EXPECT_TRUE(IsNotLeader(refusal));
  auto [status, not_leader] = CallRefusing(refusal);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "not the leader; the leader is 'rep-1' at 10.0.0.2:7000");
  EXPECT_TRUE(not_leader);
}

TEST(LeaderTest, UnavailableThatOnlySaysSoIsNotTheSignal) {
  Status text_only = absl::UnavailableError("not the leader");
  EXPECT_FALSE(IsNotLeader(text_only));
  auto [status, not_leader] = CallRefusing(text_only);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(not_leader);
}

TEST(LeaderTest, ListenAddressBracketsIpv6Hosts) {
  EXPECT_EQ(ListenAddress("127.0.0.1", 5), "127.0.0.1:5");
  EXPECT_EQ(ListenAddress("::1", 5), "[::1]:5");
}

}  // namespace
}  // namespace shoal::rpc
