// `raw_proxy`: the two-hop baseline for bench/. A gRPC callback server that forwards each
// jina.JinaSingleDataRequestRPC/process_single_data call's bytes, unparsed, to one backend over
// one channel and returns the answer's bytes: the least any gateway hop can cost.
#include <signal.h>

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

class ProxyService final : public grpc::CallbackGenericService {
 public:
  explicit ProxyService(grpc::GenericStub* backend) : backend_(backend) {}
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    if (context->method() == kUnaryMethod) return new ForwardReactor(backend_);
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
  CLI::App app{"Forwards process_single_data bytes to one backend (bench baseline)"};
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
