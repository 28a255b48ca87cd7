// rpc::ServerStream in process: a stream_doc server on 127.0.0.1 whose producer writes large
// messages on its own thread, and a client that opens the call and reads nothing.
#include "src/rpc/server_stream.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "src/rpc/jina_services.h"
#include "tests/testing/wait.h"

namespace shoal::rpc {
namespace {

// Writes 1 MiB messages until Write refuses one, then records how many went out.
class Producer : public StreamDocBase {
 public:
  grpc::ServerWriteReactor<grpc::ByteBuffer>* stream_doc(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer*) override {
    auto stream = ServerStream::Make(
        {.max_queued = 1, .context = context, .max_write_wait = absl::Milliseconds(200)});
    grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor = stream->reactor();
    thread_ = std::thread([this, stream] {
      const std::string payload(1 << 20, 'x');
      int written = 0;
      for (; written < 1000; ++written) {
        grpc::Slice slice(payload);
        if (!stream->Write(grpc::ByteBuffer(&slice, 1))) break;
      }
      stream->Finish(grpc::Status::OK);
      written_ = written;
      stopped_.Notify();
    });
    return reactor;
  }
  ~Producer() override {
    if (thread_.joinable()) thread_.join();
  }

  absl::Notification stopped_;
  std::atomic<int> written_{-1};

 private:
  std::thread thread_;
};

// A client that keeps its call open and reads nothing cannot hold the producer: its Write gives
// up after max_write_wait and the call is cancelled. Before, Write waited for room forever (a
// replica's executor thread, stuck).
TEST(ServerStreamTest, AClientThatReadsNothingIsCutOffAfterTheWriteWait) {
  Producer producer;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&producer);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  auto stub = jina::JinaSingleDocumentRequestRPC::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  jina::SingleDocumentRequestProto request;
  std::unique_ptr<grpc::ClientReader<jina::SingleDocumentRequestProto>> reader =
      stub->stream_doc(&context, request);
  // The producer stops on its own, long before the client's deadline.
  ASSERT_TRUE(producer.stopped_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_LT(producer.written_.load(), 1000);
  context.TryCancel();
  jina::SingleDocumentRequestProto ignored;
  while (reader->Read(&ignored)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace
}  // namespace shoal::rpc
