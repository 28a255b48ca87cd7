// GatewayServer: raw (ByteBuffer) callback services. The Call stream reads ahead up to the
// prefetch bound, routes every request concurrently and writes answers as they complete, or
// in request order when the client asks for it.
#include "src/gateway/gateway_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "jina.grpc.pb.h"
#include "src/common/log.h"
#include "src/gateway/doc_stream.h"
#include "src/rpc/auth.h"
#include "src/rpc/call_stream.h"
#include "src/rpc/jina_services.h"
#include "src/rpc/server.h"

namespace shoal::gateway {
namespace {

using routing::SendResult;

Deadline DeadlineOf(const grpc::CallbackServerContext* context) {
  auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return std::nullopt;
  return deadline;
}

std::string Metadata(const grpc::CallbackServerContext* context, const char* key) {
  auto it = context->client_metadata().find(key);
  if (it == context->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// Unary answer: the result's bytes and trailing metadata, or its gRPC error.
void Answer(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
            grpc::ByteBuffer* response, SendResult result) {
  if (!result.status.ok()) {
    reactor->Finish(result.status);
    return;
  }
  for (const auto& [key, value] : result.trailing) context->AddTrailingMetadata(key, value);
  *response = std::move(result.response);
  reactor->Finish(grpc::Status::OK);
}

// A unary call's reactor, and the scope of the calls made for it: cancelled when the client
// cancels or goes away.
std::pair<grpc::ServerUnaryReactor*, std::shared_ptr<routing::CallScope>> ScopedReactor(
    const grpc::CallbackServerContext* context) {
  auto scope = std::make_shared<routing::CallScope>(
      routing::CallScope::Options{.streams = false, .deadline = DeadlineOf(context)});
  return {new rpc::CancellableUnary([scope] { scope->Cancel(); }), scope};
}

// One JinaRPC/Call stream. Requests are read while fewer than `prefetch` are in flight or
// answered but not yet sent, and fewer than kMaxHeldBytes of answers wait. A request the graph
// fails is answered with an error response; only an unreadable one ends the stream. Requests
// reach replicas over Call streams of this stream's scope, with its deadline, and a client that
// cancels (or goes away, or whose deadline passes) cancels them all.
class GatewayStream : public rpc::CallStream {
 public:
  GatewayStream(Gateway* gateway, grpc::CallbackServerContext* context, int default_prefetch)
      : CallStream(context, StreamOptions(context, default_prefetch)),
        gateway_(gateway),
        deadline_(DeadlineOf(context)),
        scope_(std::make_shared<routing::CallScope>(
            routing::CallScope::Options{.streams = true, .deadline = deadline_})) {}

  // Answers one stream may hold unsent, in bytes (besides `prefetch` in count).
  static constexpr size_t kMaxHeldBytes = 64 << 20;

 private:
  static Options StreamOptions(const grpc::CallbackServerContext* context, int default_prefetch) {
    // A client may lower the operator's prefetch, never raise it.
    int limit = default_prefetch > 0 ? default_prefetch : 1 << 30;
    int prefetch = 0;
    if (absl::SimpleAtoi(Metadata(context, "__prefetch__"), &prefetch) && prefetch > 0) {
      limit = std::min(limit, prefetch);
    }
    return {.max_held = static_cast<size_t>(limit),
            .max_held_bytes = kMaxHeldBytes,
            .in_order = Metadata(context, "__results_in_order__") == "true"};
  }

  void Cancelled() override { scope_->Cancel(); }

  void Handle(uint64_t sequence, grpc::ByteBuffer request) override {
    StatusOr<RequestHead> head = ReadRequestHead(request);
    if (!head.ok()) {
      Complete(sequence,
               absl::InvalidArgumentError(absl::StrCat("jina.JinaRPC/Call message #", sequence,
                                                       ": ", head.status().message())));
      return;
    }
    RequestHead h = *head;
    gateway_->Process(
        std::move(request), h, deadline_,
        [this, sequence, h](SendResult result) {
          if (result.status.ok()) {
            Complete(sequence, std::move(result.response));
          } else {
            Complete(sequence, ErrorResponse(h, result.status.error_message()));
          }
        },
        scope_);
  }

  Gateway* const gateway_;
  const Deadline deadline_;
  const std::shared_ptr<routing::CallScope> scope_;
};

}  // namespace

class GatewayServer::Services {
 public:
  Services(Gateway* gateway, const Options& options)
      : single_(gateway, options.auth_token),
        data_(gateway, options.auth_token),
        call_(options.auth_token,
              [gateway, prefetch = options.prefetch](grpc::CallbackServerContext* context) {
                return new GatewayStream(gateway, context, prefetch);
              }),
        discovery_(options.auth_token,
                   [gateway](rpc::DiscoveryService::Done done) {
                     gateway->DiscoverEndpoints(std::move(done));
                   }),
        dry_run_(gateway, options.auth_token),
        info_(options.auth_token,
              [name = options.name](jina::JinaInfoProto& response) {
                auto& info = *response.mutable_jina();
                info["shoal"] = SHOAL_VERSION;
                info["name"] = name;
                info["grpc"] = grpc::Version();
              }),
        stream_doc_(gateway, options.auth_token) {}

  void Register(grpc::ServerBuilder& builder, bool with_process_data) {
    builder.RegisterService(&single_);
    builder.RegisterService(&call_);
    if (with_process_data) builder.RegisterService(&data_);
    builder.RegisterService(&discovery_);
    builder.RegisterService(&dry_run_);
    builder.RegisterService(&info_);
    builder.RegisterService(&stream_doc_);
  }

  // The full names of the services Register adds.
  static std::vector<std::string> Names(bool with_process_data) {
    std::vector<std::string> names = {jina::JinaSingleDataRequestRPC::service_full_name(),
                                      jina::JinaRPC::service_full_name(),
                                      jina::JinaDiscoverEndpointsRPC::service_full_name(),
                                      jina::JinaGatewayDryRunRPC::service_full_name(),
                                      jina::JinaInfoRPC::service_full_name(),
                                      jina::JinaSingleDocumentRequestRPC::service_full_name()};
    if (with_process_data) names.push_back(jina::JinaDataRequestRPC::service_full_name());
    return names;
  }

 private:
  class Single : public rpc::SingleBase {
   public:
    Single(Gateway* gateway, std::string token) : gateway_(gateway), token_(std::move(token)) {}
    grpc::ServerUnaryReactor* process_single_data(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) override {
      auto [reactor, scope] = ScopedReactor(context);
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      StatusOr<RequestHead> head = ReadRequestHead(*request);
      if (!head.ok()) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("jina.JinaSingleDataRequestRPC/process_single_data: ",
                                      head.status().message())));
        return reactor;
      }
      gateway_->Process(
          *request, *head, DeadlineOf(context),
          [context, reactor = reactor, response](SendResult result) {
            Answer(context, reactor, response, std::move(result));
          },
          std::move(scope));
      return reactor;
    }

   private:
    Gateway* const gateway_;
    const std::string token_;
  };

  class Data : public rpc::DataBase {
   public:
    Data(Gateway* gateway, std::string token) : gateway_(gateway), token_(std::move(token)) {}
    grpc::ServerUnaryReactor* process_data(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override {
      auto [reactor, scope] = ScopedReactor(context);
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      gateway_->ProcessParts(
          *request, DeadlineOf(context),
          [context, reactor = reactor, response](SendResult result) {
            Answer(context, reactor, response, std::move(result));
          },
          scope);
      return reactor;
    }

   private:
    Gateway* const gateway_;
    const std::string token_;
  };

  class DryRun : public jina::JinaGatewayDryRunRPC::CallbackService {
   public:
    DryRun(Gateway* gateway, std::string token) : gateway_(gateway), token_(std::move(token)) {}
    grpc::ServerUnaryReactor* dry_run(grpc::CallbackServerContext* context,
                                      const google::protobuf::Empty* request,
                                      jina::StatusProto* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      Status ready = gateway_->Ready();
      if (!ready.ok()) {
        response->set_code(jina::StatusProto::ERROR);
        response->set_description(std::string(ready.message()));
      }
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

   private:
    Gateway* const gateway_;
    const std::string token_;
  };

  Single single_;
  Data data_;
  rpc::StreamService call_;
  rpc::DiscoveryService discovery_;
  DryRun dry_run_;
  rpc::InfoService info_;
  StreamDocService stream_doc_;
};

StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(Gateway* gateway,
                                                              const Options& options) {
  std::unique_ptr<GatewayServer> server(new GatewayServer());
  server->services_ = std::make_unique<Services>(gateway, options);
  const bool with_process_data = gateway->size() == 1;
  StatusOr<std::unique_ptr<grpc::Server>> started = rpc::StartServer(
      {.host = options.host,
       .port = options.port,
       .max_receive_message_bytes = options.max_receive_message_bytes,
       .max_send_message_bytes = options.max_send_message_bytes,
       .tls = options.tls,
       .reflection = options.reflection},
      [&](grpc::ServerBuilder& builder) {
        server->services_->Register(builder, with_process_data);
      },
      Services::Names(with_process_data), &server->port_);
  if (!started.ok()) return started.status();
  server->server_ = std::move(started).value();
  return server;
}

GatewayServer::~GatewayServer() { Shutdown(absl::Seconds(5)); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr || stopped_.exchange(true)) return;
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
}

}  // namespace shoal::gateway
