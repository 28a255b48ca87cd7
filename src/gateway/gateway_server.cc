// GatewayServer: raw (ByteBuffer) callback services. The Call stream reads ahead up to the
// prefetch bound, routes every request concurrently and writes answers as they complete, or
// in request order when the client asks for it.
#include "src/gateway/gateway_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "jina.grpc.pb.h"
#include "src/common/log.h"
#include "src/rpc/auth.h"
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

// One JinaRPC/Call stream. Requests are read while fewer than `prefetch` are in flight or
// answered but not yet sent, and fewer than kMaxHeldBytes of answers wait: a client that does not
// read its answers stops being read from (flow control), so that they cannot pile up here.
class CallReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  CallReactor(Gateway* gateway, grpc::CallbackServerContext* context, int default_prefetch)
      : gateway_(gateway), deadline_(DeadlineOf(context)) {
    // A client may lower the operator's prefetch, never raise it.
    prefetch_ = default_prefetch > 0 ? default_prefetch : 1 << 30;
    int prefetch = 0;
    if (absl::SimpleAtoi(Metadata(context, "__prefetch__"), &prefetch) && prefetch > 0) {
      prefetch_ = std::min(prefetch_, prefetch);
    }
    in_order_ = Metadata(context, "__results_in_order__") == "true";
    StartRead(&reading_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::optional<grpc::Status> finish;
      {
        absl::MutexLock lock(&mu_);
        reads_done_ = true;
        finish = FinishIfDoneLocked();
      }
      if (finish.has_value()) Finish(*finish);
      return;
    }
    grpc::ByteBuffer request = std::move(reading_);
    uint64_t sequence;
    bool read_more;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || !error_.ok() || write_failed_) return;  // the stream is ending
      sequence = next_sequence_++;
      ++in_flight_;  // keeps the reactor alive until Completed
      read_more = CanReadLocked();
      read_paused_ = !read_more;
    }
    if (read_more) StartRead(&reading_);
    StatusOr<RequestHead> head = ReadRequestHead(request);
    if (!head.ok()) {
      Completed(
          sequence, std::nullopt,
          absl::StrCat("jina.JinaRPC/Call message #", sequence + 1, ": ", head.status().message()));
      return;
    }
    RequestHead h = *head;
    gateway_->Process(std::move(request), h, deadline_, [this, sequence, h](SendResult result) {
      if (result.status.ok()) {
        Completed(sequence, std::move(result.response), "");
      } else {
        Completed(sequence, ErrorResponse(h, result.status.error_message()), "");
      }
    });
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      held_bytes_ -= writing_buffer_.Length();
      writing_buffer_.Clear();
      if (!ok) {
        write_failed_ = true;  // the client is gone: drop what is ready
        ready_.clear();
        held_bytes_ = 0;
      }
      WriteNextLocked();
      resume = ResumeReadLocked();
      finish = FinishIfDoneLocked();
    }
    if (finish.has_value()) {
      Finish(*finish);
    } else if (resume) {
      ResumeRead();
    }
  }

  // Answers one stream may hold unsent, in bytes (besides `prefetch` in count).
  static constexpr size_t kMaxHeldBytes = 64 << 20;

  void OnDone() override { delete this; }

 private:
  // `error` set: the request itself was broken; the stream ends with INVALID_ARGUMENT.
  // Runs on a gRPC thread that holds no reference to the reactor: `in_flight_` does, until the
  // last lock below; Finish, if due, is the last touch.
  void Completed(uint64_t sequence, std::optional<grpc::ByteBuffer> response, std::string error) {
    bool resume = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
      if (!error.empty()) {
        if (error_.ok()) error_ = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, error);
      } else if (!write_failed_) {
        held_bytes_ += response->Length();
        ready_.emplace(sequence, std::move(*response));
      }
      WriteNextLocked();
      resume = ResumeReadLocked();
      finish = FinishIfDoneLocked();
    }
    if (finish.has_value()) {
      Finish(*finish);
    } else if (resume) {
      ResumeRead();
    }
  }

  bool CanReadLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t held = static_cast<size_t>(in_flight_) + ready_.size() + (writing_ ? 1 : 0);
    return held < static_cast<size_t>(prefetch_) && held_bytes_ < kMaxHeldBytes && error_.ok() &&
           !write_failed_;
  }

  // Whether a paused read may start again; the caller then calls ResumeRead outside `mu_`.
  bool ResumeReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!read_paused_ || reads_done_ || finished_ || !CanReadLocked()) return false;
    read_paused_ = false;
    starting_read_ = true;  // the stream may not finish before StartRead
    return true;
  }

  // Starts a read that ResumeReadLocked allowed, then finishes the stream if that became due.
  void ResumeRead() {
    StartRead(&reading_);
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      starting_read_ = false;
      finish = FinishIfDoneLocked();
    }
    if (finish.has_value()) Finish(*finish);
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || write_failed_ || ready_.empty()) return;
    auto next = ready_.begin();
    if (in_order_) {
      // Skip sequence numbers of broken requests, which never arrive.
      if (next->first != next_to_write_ && in_flight_ > 0) return;
    }
    next_to_write_ = next->first + 1;
    writing_buffer_ = std::move(next->second);
    ready_.erase(next);
    writing_ = true;
    StartWrite(&writing_buffer_);
  }

  // The status to Finish with when the stream is over (once), else nullopt.
  std::optional<grpc::Status> FinishIfDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || starting_read_ || in_flight_ > 0 || writing_ || !ready_.empty()) {
      return std::nullopt;
    }
    if (!reads_done_ && error_.ok() && !write_failed_) return std::nullopt;
    finished_ = true;
    return error_;
  }

  Gateway* const gateway_;
  const Deadline deadline_;
  int prefetch_ = 1000;
  bool in_order_ = false;
  grpc::ByteBuffer reading_;  // owned by the read path
  absl::Mutex mu_;
  std::map<uint64_t, grpc::ByteBuffer> ready_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer writing_buffer_ ABSL_GUARDED_BY(mu_);
  size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of ready_ and writing_buffer_
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_to_write_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool starting_read_ ABSL_GUARDED_BY(mu_) = false;  // a resumed read, until StartRead
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status error_ ABSL_GUARDED_BY(mu_);
};

using SingleBase = jina::JinaSingleDataRequestRPC::WithRawCallbackMethod_process_single_data<
    jina::JinaSingleDataRequestRPC::Service>;
using DataBase =
    jina::JinaDataRequestRPC::WithRawCallbackMethod_process_data<jina::JinaDataRequestRPC::Service>;
using CallBase = jina::JinaRPC::WithRawCallbackMethod_Call<jina::JinaRPC::Service>;

}  // namespace

class GatewayServer::Services {
 public:
  Services(Gateway* gateway, const Options& options)
      : single_(gateway, options.auth_token),
        data_(gateway, options.auth_token),
        call_(gateway, options.prefetch, options.auth_token),
        discovery_(gateway, options.auth_token),
        dry_run_(gateway, options.auth_token),
        info_(options.name, options.auth_token) {}

  void Register(grpc::ServerBuilder& builder, bool with_process_data) {
    builder.RegisterService(&single_);
    builder.RegisterService(&call_);
    if (with_process_data) builder.RegisterService(&data_);
    builder.RegisterService(&discovery_);
    builder.RegisterService(&dry_run_);
    builder.RegisterService(&info_);
  }

  // The full names of the services Register adds.
  static std::vector<std::string> Names(bool with_process_data) {
    std::vector<std::string> names = {
        jina::JinaSingleDataRequestRPC::service_full_name(), jina::JinaRPC::service_full_name(),
        jina::JinaDiscoverEndpointsRPC::service_full_name(),
        jina::JinaGatewayDryRunRPC::service_full_name(), jina::JinaInfoRPC::service_full_name()};
    if (with_process_data) names.push_back(jina::JinaDataRequestRPC::service_full_name());
    return names;
  }

 private:
  class Single : public SingleBase {
   public:
    Single(Gateway* gateway, std::string token) : gateway_(gateway), token_(std::move(token)) {}
    grpc::ServerUnaryReactor* process_single_data(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      StatusOr<RequestHead> head = ReadRequestHead(*request);
      if (!head.ok()) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("jina.JinaSingleDataRequestRPC/process_single_data: ",
                                      head.status().message())));
        return reactor;
      }
      gateway_->Process(*request, *head, DeadlineOf(context),
                        [context, reactor, response](SendResult result) {
                          Answer(context, reactor, response, std::move(result));
                        });
      return reactor;
    }

   private:
    Gateway* const gateway_;
    const std::string token_;
  };

  class Data : public DataBase {
   public:
    Data(Gateway* gateway, std::string token) : gateway_(gateway), token_(std::move(token)) {}
    grpc::ServerUnaryReactor* process_data(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      gateway_->ProcessParts(*request, DeadlineOf(context),
                             [context, reactor, response](SendResult result) {
                               Answer(context, reactor, response, std::move(result));
                             });
      return reactor;
    }

   private:
    Gateway* const gateway_;
    const std::string token_;
  };

  class Stream : public CallBase {
   public:
    Stream(Gateway* gateway, int prefetch, std::string token)
        : gateway_(gateway), prefetch_(prefetch), token_(std::move(token)) {}
    grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Call(
        grpc::CallbackServerContext* context) override {
      if (grpc::Status auth = rpc::CheckAuth(*context, token_); !auth.ok()) {
        return new rpc::RefusedStream<grpc::ByteBuffer, grpc::ByteBuffer>(auth);
      }
      return new CallReactor(gateway_, context, prefetch_);
    }

   private:
    Gateway* const gateway_;
    const int prefetch_;
    const std::string token_;
  };

  class Discovery : public jina::JinaDiscoverEndpointsRPC::CallbackService {
   public:
    Discovery(Gateway* gateway, std::string token) : gateway_(gateway), token_(std::move(token)) {}
    grpc::ServerUnaryReactor* endpoint_discovery(grpc::CallbackServerContext* context,
                                                 const google::protobuf::Empty* request,
                                                 jina::EndpointsProto* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      gateway_->DiscoverEndpoints([reactor, response](StatusOr<jina::EndpointsProto> result) {
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

  class Info : public jina::JinaInfoRPC::CallbackService {
   public:
    Info(std::string name, std::string token) : name_(std::move(name)), token_(std::move(token)) {}
    grpc::ServerUnaryReactor* _status(grpc::CallbackServerContext* context,
                                      const google::protobuf::Empty* request,
                                      jina::JinaInfoProto* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      auto& info = *response->mutable_jina();
      info["shoal"] = SHOAL_VERSION;
      info["name"] = name_;
      info["grpc"] = grpc::Version();
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

   private:
    const std::string name_;
    const std::string token_;
  };

  Single single_;
  Data data_;
  Stream call_;
  Discovery discovery_;
  DryRun dry_run_;
  Info info_;
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
