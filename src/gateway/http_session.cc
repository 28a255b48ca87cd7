// HttpSession: one connection's requests, answers, server-sent events and watch.
#include "src/gateway/http_session.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/common/log.h"
#include "src/common/strings.h"
#include "src/gateway/doc_stream.h"
#include "src/gateway/http_events.h"
#include "src/gateway/http_json.h"
#include "src/gateway/http_stream.h"
#include "src/rpc/auth.h"

namespace shoal::gateway {
namespace {

using internal::HttpStream;

constexpr size_t kMaxHeaderBytes = 64 << 10;

http::status HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
      return http::status::service_unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return http::status::gateway_timeout;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return http::status::bad_request;
    default:
      return http::status::internal_server_error;
  }
}

grpc::ByteBuffer ToByteBuffer(const jina::DataRequestProto& request) {
  grpc::Slice slice(request.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

bool FromByteBuffer(const grpc::ByteBuffer& buffer, jina::DataRequestProto* request) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return request->ParseFromString(bytes);
}

}  // namespace

template <typename Request>
bool AcceptsEvents(const Request& request) {
  auto accept = request.find(http::field::accept);
  return accept != request.end() &&
         accept->value().find("text/event-stream") != beast::string_view::npos;
}

void HttpSession::ReleaseBody() {
  if (reserved_ > 0) server_->ReleaseBody(reserved_);
  reserved_ = 0;
}

void HttpSession::Read() {
  ReleaseBody();  // the previous request's body is gone with its parser
  parser_.emplace();
  parser_->body_limit(server_->options().max_body_bytes);
  parser_->header_limit(kMaxHeaderBytes);
  stream_.tcp().expires_after(Chrono(server_->options().idle_timeout));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession::OnHeader, shared_from_this()));
}

void HttpSession::OnHeader(beast::error_code ec, size_t bytes) {
  if (ec) {
    OnRead(ec, bytes);
    return;
  }
  const std::string& token = server_->options().auth_token;
  version_ = parser_->get().version();
  if (!token.empty()) {
    const auto authorization = parser_->get()[http::field::authorization];
    if (!rpc::TokenMatches(std::string_view(authorization.data(), authorization.size()), token)) {
      keep_alive_ = false;  // the body, if any, is not read
      Reply(http::status::unauthorized, ErrorJson("Unauthorized"));
      return;
    }
  }
  // The whole body must arrive within body_timeout; the budget is taken as it arrives (OnBody).
  stream_.tcp().expires_after(Chrono(server_->options().body_timeout));
  auto expect = parser_->get()[http::field::expect];
  if (!beast::iequals(expect, "100-continue")) {
    ReadBody();
    return;
  }
  // curl and others wait for this before sending a large body.
  auto proceed = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                    parser_->get().version());
  http::async_write(stream_, *proceed,
                    [self = shared_from_this(), proceed](beast::error_code write_ec, size_t) {
                      if (write_ec) {
                        self->Close();
                        return;
                      }
                      self->ReadBody();
                    });
}

void HttpSession::ReadBody() {
  if (parser_->is_done()) {
    OnRead({}, 0);
    return;
  }
  http::async_read_some(stream_, buffer_, *parser_,
                        beast::bind_front_handler(&HttpSession::OnBody, shared_from_this()));
}

void HttpSession::OnBody(beast::error_code ec, size_t bytes) {
  if (ec) {
    OnRead(ec, bytes);
    return;
  }
  // Account for what arrived: a client declaring a large body holds only what it sent.
  const size_t held = parser_->get().body().capacity();
  if (held > reserved_) {
    if (!server_->ReserveBody(held - reserved_)) {
      keep_alive_ = false;
      Reply(http::status::service_unavailable,
            ErrorJson(absl::StrCat("the gateway holds ", server_->options().max_total_body_bytes,
                                   " bytes of request bodies already (max_total_body_bytes); "
                                   "try again")));
      return;
    }
    reserved_ = held;
  }
  ReadBody();
}

void HttpSession::OnRead(beast::error_code ec, size_t bytes) {
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    Reply(http::status::payload_too_large,
          ErrorJson(absl::StrCat("request body over max_body_bytes (",
                                 server_->options().max_body_bytes, " bytes)")));
    return;
  }
  if (ec == http::error::header_limit) {
    keep_alive_ = false;
    Reply(http::status::request_header_fields_too_large,
          ErrorJson(absl::StrCat("request headers over ", kMaxHeaderBytes, " bytes")));
    return;
  }
  if (ec) {  // end of stream, idle timeout, reset, or a message that is not HTTP
    Close();
    return;
  }
  Handle();
}

void HttpSession::Handle() {
  stream_.tcp().expires_never();  // the Gateway's deadline bounds the wait; Reply re-arms the timer
  const auto& request = parser_->get();
  version_ = request.version();
  keep_alive_ = request.keep_alive();
  std::string_view target(request.target().data(), request.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  bool is_get_route = path == "/status" || path == "/dry_run" || path == "/health" || path == "/";
  if (request.method() == http::verb::get) {
    if (path == "/status") {
      Reply(http::status::ok,
            InfoJson(server_->options().name, SHOAL_VERSION, server_->gateway()->Ready().ok()));
    } else if (path == "/dry_run") {
      Status ready = server_->gateway()->Ready();
      Reply(ready.ok() ? http::status::ok : http::status::service_unavailable,
            DryRunJson(AsStd(ready.message())));
    } else if (path == "/health" || path == "/") {
      Status ready = server_->gateway()->Ready();
      if (ready.ok()) {
        Reply(http::status::ok, "{}");
      } else {
        Reply(http::status::service_unavailable, ErrorJson(AsStd(ready.message())));
      }
    } else if (path == "/post") {
      Reply(http::status::method_not_allowed, ErrorJson("POST /post, not GET"), "POST");
    } else if (!Streamed(*server_->gateway(), path) && !AcceptsEvents(request)) {
      Reply(http::status::not_found, ErrorJson(absl::StrCat("no route GET ", AsAbsl(path))));
    } else {
      // Jina's GET /<endpoint> of a streaming endpoint: the doc's fields as a JSON body or as
      // query parameters, answered as server-sent events.
      std::string body = parser_->get().body();
      if (body.empty() && path.size() < target.size()) {
        body = QueryAsJson(target.substr(path.size() + 1));
      }
      HandleStream(path, std::move(body));
    }
    return;
  }
  if (request.method() != http::verb::post) {
    Reply(http::status::method_not_allowed,
          ErrorJson(absl::StrCat(
              "method ",
              absl::string_view(request.method_string().data(), request.method_string().size()),
              " not allowed on ", AsAbsl(path))),
          is_get_route ? "GET" : "POST");
    return;
  }
  if (is_get_route) {
    Reply(http::status::method_not_allowed,
          ErrorJson(absl::StrCat("GET ", AsAbsl(path), ", not POST")), "GET");
    return;
  }
  if (path != "/post" && AcceptsEvents(request)) {
    HandleStream(path, parser_->get().body());
    return;
  }
  HandleData(path == "/post" ? std::string_view() : path);
}

void HttpSession::HandleStream(std::string_view endpoint, std::string body) {
  const HttpServer::Options& options = server_->options();
  StatusOr<jina::SingleDocumentRequestProto> request =
      StreamRequestFromJson(body, endpoint,
                            {.max_docs = options.max_docs_per_request,
                             .max_memory_bytes = options.max_json_memory_bytes});
  parser_.reset();
  ReleaseBody();
  if (!request.ok()) {
    ReplyUnreadable(request.status());
    return;
  }
  const Deadline deadline = RequestDeadline();
  // Runs on gRPC threads: only hands each event to this connection's strand, while the
  // io_context still exists.
  auto post = [gate = server_->gate(), weak = weak_from_this()](std::string event, bool last,
                                                                bool counted) {
    absl::MutexLock lock(&gate->mu);
    if (!gate->open) return;
    std::shared_ptr<HttpSession> self = weak.lock();
    if (self == nullptr) return;
    auto executor = self->stream_.get_executor();
    net::post(executor, [self = std::move(self), event = std::move(event), last,
                         counted]() mutable { self->QueueEvent(std::move(event), last, counted); });
  };
  run_ = server_->streamer().Prepare(*std::move(request), deadline,
                                     std::make_shared<SseSink>(unsent_, std::move(post)));
  keep_alive_ = false;
  sse_head_ = {};
  sse_head_.version(version_);
  sse_head_.result(http::status::ok);
  sse_head_.set(http::field::server, "shoal");
  sse_head_.set(http::field::content_type, "text/event-stream");
  sse_head_.set(http::field::cache_control, "no-cache");
  sse_head_.keep_alive(false);
  sse_serializer_.emplace(sse_head_);
  writing_ = true;
  stream_.tcp().expires_after(Chrono(options.idle_timeout));
  http::async_write_header(stream_, *sse_serializer_,
                           [self = shared_from_this()](beast::error_code ec, size_t) {
                             self->writing_ = false;
                             if (ec) {
                               self->Close();
                               return;
                             }
                             self->WriteEvent();
                           });
  run_->Start();
}

void HttpSession::QueueEvent(std::string event, bool last, bool counted) {
  if (closed_ || ending_) return;
  events_.emplace_back(std::move(event), counted);
  ending_ = last;
  if (!writing_) WriteEvent();
}

void HttpSession::WriteEvent() {
  if (closed_) return;
  if (events_.empty()) {
    if (ending_) Close();
    return;
  }
  writing_ = true;
  event_ = std::move(events_.front());
  events_.pop_front();
  // A client that does not read within idle_timeout is closed (and its stream cancelled).
  stream_.tcp().expires_after(Chrono(server_->options().idle_timeout));
  net::async_write(stream_, net::buffer(event_.first),
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     self->writing_ = false;
                     if (ec) {
                       self->Close();
                       return;
                     }
                     if (self->event_.second) self->unsent_->fetch_sub(1);
                     if (self->run_ != nullptr) self->run_->Resume();
                     self->WriteEvent();
                   });
}

void HttpSession::HandleData(std::string_view endpoint) {
  const HttpServer::Options& options = server_->options();
  StatusOr<jina::DataRequestProto> request =
      DataRequestFromJson(parser_->get().body(), endpoint,
                          {.max_docs = options.max_docs_per_request,
                           .max_memory_bytes = options.max_json_memory_bytes});
  parser_.reset();  // the body is no longer needed while the Gateway works
  ReleaseBody();
  if (!request.ok()) {
    ReplyUnreadable(request.status());
    return;
  }
  grpc::ByteBuffer bytes = ToByteBuffer(*request);
  request->Clear();
  StatusOr<RequestHead> head = ReadRequestHead(bytes);
  if (!head.ok()) {
    Reply(http::status::internal_server_error, ErrorJson(AsStd(head.status().message())));
    return;
  }
  const Deadline deadline = RequestDeadline();
  scope_ = std::make_shared<routing::CallScope>(
      routing::CallScope::Options{.streams = false, .deadline = deadline});
  // Runs on a gRPC thread: only hands the result to this connection's strand, and only while
  // the io_context still exists.
  server_->gateway()->Process(
      std::move(bytes), *head, deadline,
      [gate = server_->gate(), weak = weak_from_this()](routing::SendResult result) mutable {
        absl::MutexLock lock(&gate->mu);
        if (!gate->open) return;
        std::shared_ptr<HttpSession> self = weak.lock();
        if (self == nullptr) return;
        auto executor = self->stream_.get_executor();
        net::post(executor, [self = std::move(self), result = std::move(result)]() mutable {
          self->Answered(std::move(result));
        });
      },
      scope_);
  // A TLS read cannot be cancelled safely (the connection goes on after the answer): only plain
  // connections are watched.
  if (!stream_.is_tls()) Watch([scope = scope_] { scope->Cancel(); });
}

void HttpSession::ReplyUnreadable(const Status& status) {
  Reply(status.code() == absl::StatusCode::kResourceExhausted ? http::status::payload_too_large
                                                              : http::status::bad_request,
        ErrorJson(AsStd(status.message())));
}

Deadline HttpSession::RequestDeadline() const {
  const std::optional<absl::Duration>& timeout = server_->options().request_timeout;
  if (!timeout.has_value()) return std::nullopt;
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(*timeout);
}

void HttpSession::Watch(absl::AnyInvocable<void()> gone) {
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(kWatchBytes),
                          [self = shared_from_this(), gone = std::move(gone)](
                              beast::error_code ec, size_t bytes) mutable {
                            self->watching_ = false;
                            self->buffer_.commit(bytes);
                            if (self->held_.has_value()) {  // cancelled by Answered: answer now
                              routing::SendResult result = *std::move(self->held_);
                              self->held_.reset();
                              self->OnGatewayDone(std::move(result));
                              return;
                            }
                            if (ec && ec != net::error::operation_aborted) gone();
                          });
}

void HttpSession::Answered(routing::SendResult result) {
  scope_.reset();
  if (!watching_) {
    OnGatewayDone(std::move(result));
    return;
  }
  // One read at a time: the Watch read ends first, then the answer goes out (and Read follows).
  held_ = std::move(result);
  beast::error_code ignored;
  stream_.tcp().socket().cancel(ignored);
}

void HttpSession::OnGatewayDone(routing::SendResult result) {
  if (!result.status.ok()) {
    Reply(HttpStatusOf(result.status.error_code()), ErrorJson(result.status.error_message()));
    return;
  }
  jina::DataRequestProto answer;
  if (!FromByteBuffer(result.response, &answer)) {
    Reply(
        http::status::internal_server_error,
        ErrorJson(absl::StrCat("the answer from ", result.replica, " is not a DataRequestProto")));
    return;
  }
  StatusOr<std::string> body = DataRequestToJson(answer);
  if (!body.ok()) {
    Reply(http::status::internal_server_error, ErrorJson(AsStd(body.status().message())));
    return;
  }
  Reply(http::status::ok, *std::move(body));
}

void HttpSession::Reply(http::status status, std::string body, std::string_view allow) {
  response_ = {};
  response_.version(version_);
  response_.result(status);
  response_.set(http::field::server, "shoal");
  response_.set(http::field::content_type, "application/json");
  if (status == http::status::unauthorized) response_.set(http::field::www_authenticate, "Bearer");
  if (!allow.empty()) {
    response_.set(http::field::allow, beast::string_view(allow.data(), allow.size()));
  }
  response_.keep_alive(keep_alive_);
  response_.body() = std::move(body);
  response_.prepare_payload();
  stream_.tcp().expires_after(Chrono(server_->options().idle_timeout));
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this()));
}

void HttpSession::OnWrite(beast::error_code ec, size_t bytes) {
  if (ec || !keep_alive_) {
    Close();
    return;
  }
  response_ = {};
  Read();
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  if (run_ != nullptr) run_->Cancel();  // a stream whose client went away
  beast::error_code ignored;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.tcp().socket().close(ignored);
  server_->Remove(this);  // the running handler still holds this HttpSession
}

}  // namespace shoal::gateway
