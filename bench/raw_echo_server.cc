// `raw_echo_server`: the physical-limit baseline for bench/. A gRPC callback server that answers
// jina.JinaSingleDataRequestRPC/process_single_data and each message of jina.JinaRPC/Call with the
// request bytes themselves, never parsing protobuf, so Shoal can be compared with bare gRPC.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"

namespace shoal::bench {
namespace {

constexpr char kUnaryMethod[] = "/jina.JinaSingleDataRequestRPC/process_single_data";
constexpr char kStreamMethod[] = "/jina.JinaRPC/Call";

// Answers one process_single_data call: reads the request and writes the same bytes back.
// Owned by gRPC from CreateReactor until OnDone, where it deletes itself.
class UnaryEchoReactor final : public grpc::ServerGenericBidiReactor {
 public:
  UnaryEchoReactor() { StartRead(&buffer_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    StartWriteAndFinish(&buffer_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer buffer_;
};

// Answers one Call stream: each message read is written back before the next read starts, which
// keeps one buffer and at most one read or write outstanding. Flow control queues what the client
// sends meanwhile. Finishes OK when the client half-closes. Owned by gRPC until OnDone.
class StreamEchoReactor final : public grpc::ServerGenericBidiReactor {
 public:
  StreamEchoReactor() { StartRead(&buffer_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&buffer_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    buffer_.Clear();
    StartRead(&buffer_);
  }

  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer buffer_;
};

// Rejects every method other than the two echoed ones.
class UnimplementedReactor final : public grpc::ServerGenericBidiReactor {
 public:
  UnimplementedReactor() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")); }
  void OnDone() override { delete this; }
};

// Dispatches on the method name only. Thread-safe: stateless.
class EchoService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    const std::string& method = ctx->method();
    if (method == kUnaryMethod) return new UnaryEchoReactor();
    if (method == kStreamMethod) return new StreamEchoReactor();
    return new UnimplementedReactor();
  }
};

int Run(const std::string& host, int port) {
  // Block the stop signals before gRPC starts its threads, so that they inherit the mask and
  // only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  EchoService service;
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(host + ":" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterCallbackGenericService(&service);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    std::fprintf(stderr, "raw_echo_server: cannot listen on %s:%d\n", host.c_str(), port);
    return 1;
  }
  std::printf("ready port=%d\n", bound_port);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  CLI::App app{"Minimal gRPC echo server speaking Jina's RPC names (benchmark baseline)",
               "raw_echo_server"};
  std::string host = "127.0.0.1";
  int port = 0;
  app.add_option("--host", host, "Address to listen on");
  app.add_option("--port", port, "Port to listen on; 0 picks a free one")
      ->check(CLI::Range(0, 65535));
  CLI11_PARSE(app, argc, argv);
  return shoal::bench::Run(host, port);
}
