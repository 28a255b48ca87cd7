// `raw_proxy`: the two-hop baseline for bench/. A gRPC callback server that forwards each
// jina.JinaSingleDataRequestRPC/process_single_data call's bytes, unparsed, to one backend over
// one channel and returns the answer's bytes, and each jina.JinaRPC/Call stream over a Call
// stream of its own to the backend, message bytes unparsed: the least any gateway hop can cost.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace shoal::bench {
namespace {

constexpr char kUnaryMethod[] = "/jina.JinaSingleDataRequestRPC/process_single_data";
constexpr char kStreamMethod[] = "/jina.JinaRPC/Call";

// One forwarded call: read the request, call the backend, write its answer. Owned by gRPC
// from CreateReactor until OnDone.
class ForwardReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit ForwardReactor(grpc::GenericStub* backend) : backend_(backend) { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    backend_->UnaryCall(&client_context_, kUnaryMethod, grpc::StubOptions(), &request_, &response_,
                        [this](grpc::Status status) {
                          if (!status.ok()) {
                            Finish(status);
                            return;
                          }
                          StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
                        });
  }

  void OnDone() override { delete this; }

 private:
  grpc::GenericStub* const backend_;
  grpc::ClientContext client_context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

// One forwarded Call stream: the client's stream and a stream to the backend, each direction a
// chain of one read then one write (flow control holds what arrives meanwhile). The client's
// half-close becomes the backend stream's; the backend's status ends the client's stream. A hold
// keeps the backend stream until the client's side stops reading, so that no operation reaches
// it once it is done. Owned by gRPC; deletes itself once both streams are done.
class StreamForwarder final : public grpc::ServerGenericBidiReactor {
 public:
  explicit StreamForwarder(grpc::GenericStub* backend) : backend_stream_(this) {
    backend->PrepareBidiStreamingCall(&client_context_, kStreamMethod, grpc::StubOptions(),
                                      &backend_stream_);
    backend_stream_.AddHold();
    backend_stream_.StartRead(&from_backend_);
    backend_stream_.StartCall();
    StartRead(&from_client_);
  }

  // Client -> backend. Once a write to the backend failed, what the client sends is dropped
  // until it half-closes or goes.
  void OnReadDone(bool ok) override {
    if (!ok) {
      backend_stream_.StartWritesDone();
      backend_stream_.RemoveHold();
      return;
    }
    if (backend_failed_.load()) {
      from_client_.Clear();
      StartRead(&from_client_);
      return;
    }
    backend_stream_.StartWrite(&from_client_);
  }

  // Backend -> client.
  void OnWriteDone(bool ok) override {
    if (!ok) {
      client_context_.TryCancel();
      return;
    }
    from_backend_.Clear();
    backend_stream_.StartRead(&from_backend_);
  }

  void OnCancel() override { client_context_.TryCancel(); }
  void OnDone() override { Release(); }

 private:
  class BackendStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit BackendStream(StreamForwarder* forwarder) : forwarder_(forwarder) {}
    void OnReadDone(bool ok) override {
      if (ok) forwarder_->StartWrite(&forwarder_->from_backend_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) forwarder_->backend_failed_.store(true);
      forwarder_->from_client_.Clear();
      forwarder_->StartRead(&forwarder_->from_client_);
    }
    void OnDone(const grpc::Status& status) override {
      forwarder_->Finish(status);
      forwarder_->Release();
    }

   private:
    StreamForwarder* const forwarder_;
  };

  void Release() {
    if (done_.fetch_add(1) == 1) delete this;
  }

  grpc::ClientContext client_context_;
  BackendStream backend_stream_;
  grpc::ByteBuffer from_client_;
  grpc::ByteBuffer from_backend_;
  std::atomic<bool> backend_failed_{false};
  std::atomic<int> done_{0};
};

class ProxyService final : public grpc::CallbackGenericService {
 public:
  explicit ProxyService(grpc::GenericStub* backend) : backend_(backend) {}
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    if (context->method() == kUnaryMethod) return new ForwardReactor(backend_);
    if (context->method() == kStreamMethod) return new StreamForwarder(backend_);
    return grpc::CallbackGenericService::CreateReactor(context);  // UNIMPLEMENTED
  }

 private:
  grpc::GenericStub* const backend_;
};

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string backend;
  CLI::App app{"Forwards process_single_data and Call bytes to one backend (bench baseline)"};
  app.add_option("--host", host, "Address to listen on");
  app.add_option("--port", port, "Port (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--backend", backend, "host:port to forward to")->required();
  CLI11_PARSE(app, argc, argv);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  grpc::GenericStub stub(
      grpc::CreateCustomChannel(backend, grpc::InsecureChannelCredentials(), args));
  shoal::bench::ProxyService service(&stub);
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(host + ":" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  builder.RegisterCallbackGenericService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound == 0) {
    std::fprintf(stderr, "raw_proxy: cannot listen on %s:%d\n", host.c_str(), port);
    return 1;
  }
  std::printf("ready port=%d\n", bound);
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
