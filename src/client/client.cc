// shoal::Client: a channel to one server, the stubs of the Jina services a client calls, and the
// two Post transports (src/client/transport.h) behind one blocking API.
#include "shoal/client.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/grpc.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "jina.grpc.pb.h"
#include "src/client/batcher.h"
#include "src/client/collector.h"
#include "src/client/transport.h"
#include "src/rpc/tls.h"

namespace shoal {

bool Response::ok() const { return proto_->header().status().code() == jina::StatusProto::SUCCESS; }
std::string_view Response::request_id() const { return proto_->header().request_id(); }
std::string_view Response::error() const { return proto_->header().status().description(); }
std::string_view Response::exception_name() const {
  return proto_->header().status().exception().name();
}
DocList Response::docs() const { return DocList(proto_->mutable_data()->mutable_docs()); }
Params Response::parameters() const { return Params(&proto_->parameters()); }

// Immutable after Connect; the stubs and the channel are thread-safe.
class Client::Impl {
 public:
  Impl(std::string address, std::shared_ptr<grpc::Channel> channel)
      : address_(std::move(address)),
        channel_(std::move(channel)),
        stream_stub_(jina::JinaRPC::NewStub(channel_)),
        unary_stub_(jina::JinaSingleDataRequestRPC::NewStub(channel_)),
        stream_doc_stub_(jina::JinaSingleDocumentRequestRPC::NewStub(channel_)),
        health_stub_(grpc::health::v1::Health::NewStub(channel_)) {}

  Status StreamDoc(std::string_view on, const Doc& input, const StreamDocCallback& on_doc,
                   const StreamDocOptions& options) {
    return client::StreamDoc(*stream_doc_stub_, on, input, on_doc, options,
                             absl::StrCat("streaming ", std::string(on), " at ", address_));
  }

  template <typename Inputs>
  StatusOr<DocList> Post(std::string_view on, Inputs&& inputs, const PostOptions& options) {
    std::string where = absl::StrCat("posting to ", std::string(on), " at ", address_);
    client::RequestTemplate request{.endpoint = std::string(on),
                                    .target_executor = options.target_executor,
                                    .request_size = options.request_size,
                                    .parameters = options.parameters};
    client::Batcher batcher(std::forward<Inputs>(inputs), request);
    client::Collector collector(options, where);
    Status status = options.stream
                        ? client::PostOverStream(*stream_stub_, batcher, options, collector, where)
                        : client::PostUnary(*unary_stub_, batcher, options, collector, where);
    DocList results = collector.TakeResults();
    if (!status.ok()) return status;
    return results;
  }

  Status Ping(std::chrono::milliseconds timeout) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = health_stub_->Check(&context, request, &response);
    if (!status.ok()) {
      auto code = static_cast<absl::StatusCode>(status.error_code());
      return Status(code, absl::StrCat("health check of ", address_,
                                       " failed: ", absl::StatusCodeToString(code), ": ",
                                       status.error_message()));
    }
    if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::UnavailableError(absl::StrCat(
          address_, " is not serving (health status ",
          grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()), ")"));
    }
    return absl::OkStatus();
  }

 private:
  const std::string address_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<jina::JinaRPC::Stub> stream_stub_;
  const std::unique_ptr<jina::JinaSingleDataRequestRPC::Stub> unary_stub_;
  const std::unique_ptr<jina::JinaSingleDocumentRequestRPC::Stub> stream_doc_stub_;
  const std::unique_ptr<grpc::health::v1::Health::Stub> health_stub_;
};

namespace {

// Channels are shared by every Client of one target and live until the process ends. Besides
// reusing connections, this keeps a channel from being destroyed right after a Post returns,
// while gRPC 1.51 may still be inside the call's last callback on that channel's completion
// queue (destroying it then aborts the process).
// Keyed by the target and everything that makes its channel different (TLS, token).
StatusOr<std::shared_ptr<grpc::Channel>> SharedChannel(const std::string& target,
                                                       const rpc::ChannelSecurity& security,
                                                       const grpc::ChannelArguments& args) {
  static absl::Mutex mu;
  static auto* channels = new std::map<std::string, std::shared_ptr<grpc::Channel>>();
  const TlsFiles& files = security.files;
  std::string key = absl::StrCat(target, "\n", security.tls, "\n", files.cafile, "\n",
                                 files.certfile, "\n", files.keyfile, "\n", security.auth_token);
  absl::MutexLock lock(&mu);
  std::shared_ptr<grpc::Channel>& channel = (*channels)[key];
  if (channel == nullptr) {
    StatusOr<std::shared_ptr<grpc::Channel>> created = rpc::CreateChannel(target, security, args);
    if (!created.ok()) {
      channels->erase(key);
      return created.status();
    }
    channel = *std::move(created);
  }
  return channel;
}

}  // namespace

StatusOr<Client> Client::Connect(std::string_view address, const ClientOptions& options) {
  // gRPC stays initialised until the process ends: its shutdown at exit can race with the
  // callback threads of calls that just completed (gRPC 1.51 aborts in the completion queue).
  static const bool kGrpcInitialised = [] {
    grpc_init();
    return true;
  }();
  (void)kGrpcInitialised;
  std::string target(address);
  rpc::ChannelSecurity security{
      .tls = options.tls || !options.ssl_cafile.empty() || !options.ssl_certfile.empty(),
      .files = {.certfile = options.ssl_certfile,
                .keyfile = options.ssl_keyfile,
                .cafile = options.ssl_cafile},
      .auth_token = options.auth_token};
  if (absl::StartsWith(target, "grpcs://")) {
    security.tls = true;
    target.erase(0, 8);
  }
  if (absl::StartsWith(target, "grpc://")) target.erase(0, 7);
  size_t colon = target.rfind(':');
  if (target.empty() || colon == std::string::npos || colon == 0 || colon + 1 == target.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(address), "' is not an address of the form host:port"));
  }
  grpc::ChannelArguments args;
  // Requests carry whole document batches; Jina lifts the limits the same way.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  StatusOr<std::shared_ptr<grpc::Channel>> shared = SharedChannel(target, security, args);
  if (!shared.ok()) {
    return Status(shared.status().code(),
                  absl::StrCat("connecting to ", target, ": ", shared.status().message()));
  }
  std::shared_ptr<grpc::Channel> channel = *std::move(shared);
  if (options.connect_timeout.count() > 0 &&
      !channel->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout)) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", target, " within ",
                                               options.connect_timeout.count(), " ms"));
  }
  return Client(std::make_unique<Impl>(target, std::move(channel)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

StatusOr<DocList> Client::Post(std::string_view on, const DocList& inputs,
                               const PostOptions& options) {
  return impl_->Post(on, inputs, options);
}

StatusOr<DocList> Client::Post(std::string_view on, DocGenerator inputs,
                               const PostOptions& options) {
  return impl_->Post(on, std::move(inputs), options);
}

Status Client::StreamDoc(std::string_view on, const Doc& input, const StreamDocCallback& on_doc,
                         const StreamDocOptions& options) {
  return impl_->StreamDoc(on, input, on_doc, options);
}

Status Client::Ping(std::chrono::milliseconds timeout) { return impl_->Ping(timeout); }

}  // namespace shoal
