// HttpServer over Boost.Beast (Debian's libboost-dev 1.74, header-only) on Boost.Asio: one
// io_context run by a few threads, a strand per connection, every socket operation async.
// Chosen over cpp-httplib 0.11 for many concurrent keep-alive clients: httplib is blocking and
// parks one pool thread on each open connection (idle keep-alive ones included), so N clients
// need N threads or queue behind each other, while Beast holds an idle connection as a pending
// read costing a buffer and no thread, and a request waiting on the Gateway costs none either.
// Beast reports errors through error_code; the few throwing calls are caught here.
#include "src/gateway/http_server.h"

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
#include <thread>
#include <unordered_map>
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

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using internal::HttpStream;

constexpr size_t kMaxHeaderBytes = 64 << 10;

// Whether gateway completions may still reach the io_context. Co-owned by the server and every
// completion in flight; closed (under mu) before the io_context goes away.
struct Gate {
  absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = true;
};

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

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

}  // namespace

template <typename Request>
bool AcceptsEvents(const Request& request) {
  auto accept = request.find(http::field::accept);
  return accept != request.end() &&
         accept->value().find("text/event-stream") != beast::string_view::npos;
}

class HttpSession;

class HttpServer::Impl {
 public:
  Impl(Gateway* gateway, Options options)
      : gateway_(gateway),
        streamer_(gateway),
        options_(std::move(options)),
        acceptor_(ioc_),
        accept_retry_(ioc_),
        work_(net::make_work_guard(ioc_)),
        gate_(std::make_shared<Gate>()) {}
  ~Impl() { Shutdown(); }

  // Loads the TLS certificate and key, when the options name them.
  Status LoadTls();
  Status Listen();
  void StartThreads();
  void Shutdown();
  void Remove(HttpSession* session);

  // Accounts for `bytes` of request bodies; false when that would pass max_total_body_bytes.
  bool ReserveBody(size_t bytes) {
    size_t held = body_bytes_.load(std::memory_order_relaxed);
    do {
      if (held + bytes > options_.max_total_body_bytes) return false;
    } while (!body_bytes_.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
    return true;
  }
  void ReleaseBody(size_t bytes) { body_bytes_.fetch_sub(bytes, std::memory_order_relaxed); }

  Gateway* gateway() const { return gateway_; }
  DocStreamer& streamer() { return streamer_; }
  const Options& options() const { return options_; }
  const std::shared_ptr<Gate>& gate() const { return gate_; }
  net::ssl::context* tls() const { return tls_.get(); }
  int port() const { return port_; }

 private:
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  // Constant after construction.
  Gateway* const gateway_;
  DocStreamer streamer_;  // thread-safe
  const Options options_;
  int port_ = 0;
  std::shared_ptr<net::ssl::context> tls_;  // null: plain HTTP
  std::atomic<size_t> body_bytes_{0};       // reserved by sessions for their current request

  // Declared first among the Asio objects: destroyed last, after every socket and timer.
  net::io_context ioc_;
  // Owned by the io threads (touched only from handlers, and by Shutdown once they are joined).
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  const std::shared_ptr<Gate> gate_;

  absl::Mutex mu_;
  // Open connections. Each HttpSession is co-owned by this map and its pending operations.
  std::unordered_map<HttpSession*, std::shared_ptr<HttpSession>> sessions_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// One connection. Runs on its strand only; owned by the server's map until it closes.
// What a Watch read takes in at most (more waits in the kernel for the next Read).
constexpr size_t kWatchBytes = 4096;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(HttpServer::Impl* server, tcp::socket socket)
      : server_(server), stream_(std::move(socket), server->tls()) {}
  ~HttpSession() {
    ReleaseBody();
    if (run_ != nullptr) run_->Cancel();  // the server stopped with the stream running
  }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->stream_.is_tls()) {
        self->Read();
        return;
      }
      self->stream_.tcp().expires_after(Chrono(self->server_->options().idle_timeout));
      self->stream_.Handshake([self](beast::error_code ec) {
        if (ec) {
          self->Close();  // not TLS, or a failed handshake
          return;
        }
        self->Read();
      });
    });
  }

 private:
  void Read();
  void ReleaseBody();
  void OnHeader(beast::error_code ec, size_t bytes);
  void ReadBody();
  void OnBody(beast::error_code ec, size_t bytes);
  void OnRead(beast::error_code ec, size_t bytes);
  void Handle();
  void HandleData(std::string_view endpoint);
  // Server-sent events: the stream's messages as `update` (or `error`) events, then `end`.
  void HandleStream(std::string_view endpoint, std::string body);
  void QueueEvent(std::string event, bool last, bool counted);
  void WriteEvent();
  // While the Gateway works on a request, a read watches the connection: a client that closes
  // it (or resets it) is gone, and `gone` runs. Bytes that arrive instead (a pipelined next
  // request) stay in the buffer for the next Read, and the watch ends.
  void Watch(absl::AnyInvocable<void()> gone);
  // A body that cannot be turned into a request: 413 when it is over a limit, else 400.
  void ReplyUnreadable(const Status& status);
  // The Gateway's deadline for a request starting now (request_timeout), if any.
  Deadline RequestDeadline() const;
  void Answered(routing::SendResult result);
  void OnGatewayDone(routing::SendResult result);
  void Reply(http::status status, std::string body, std::string_view allow = {});
  void OnWrite(beast::error_code ec, size_t bytes);
  void Close();

  HttpServer::Impl* const server_;
  HttpStream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<internal::GrowingStringBody>> parser_;
  http::response<http::string_body> response_;
  size_t reserved_ = 0;  // body bytes accounted for the current request
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool closed_ = false;
  // The calls made for the request being answered; cancelled when its client goes away.
  std::shared_ptr<routing::CallScope> scope_;
  bool watching_ = false;                    // a Watch read is pending
  std::optional<routing::SendResult> held_;  // an answer waiting for the Watch read to end
  // A stream answered as server-sent events (the connection closes after it).
  std::shared_ptr<DocStreamRun> run_;
  std::shared_ptr<std::atomic<size_t>> unsent_ = std::make_shared<std::atomic<size_t>>(0);
  http::response<http::empty_body> sse_head_;
  std::optional<http::response_serializer<http::empty_body>> sse_serializer_;
  std::deque<std::pair<std::string, bool>> events_;  // (event, counted in unsent_)
  std::pair<std::string, bool> event_;               // being written
  bool writing_ = false;
  bool ending_ = false;  // the last event is queued
};

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

Status HttpServer::Impl::Listen() {
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto resolved =
      resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive, ec);
  if (ec || resolved.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP gateway: cannot resolve host '", options_.host, "': ", ec.message()));
  }
  tcp::endpoint endpoint = resolved.begin()->endpoint();
  auto fail = [&](const char* what) {
    return absl::UnavailableError(absl::StrCat("HTTP gateway: ", what, " ", options_.host, ":",
                                               options_.port, ": ", ec.message()));
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return fail("cannot open");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return fail("options");
  if (acceptor_.bind(endpoint, ec)) return fail("cannot bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return fail("cannot listen");
  tcp::endpoint local = acceptor_.local_endpoint(ec);
  if (ec) return fail("no local address on");
  port_ = local.port();
  Accept();
  return absl::OkStatus();
}

void HttpServer::Impl::StartThreads() {
  int n = options_.threads > 0 ? options_.threads : 1;
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      std::string name = absl::StrCat("http-io-", i);
      pthread_setname_np(pthread_self(), name.c_str());
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {  // a bug in a handler; keep serving the others
          SHOAL_LOG_ERROR("HTTP gateway: io thread %s: %s", name, e.what());
        }
      }
    });
  }
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Impl::OnAccept, this));
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;
  if (ec) {  // out of descriptors and the like: back off instead of spinning
    SHOAL_LOG_WARNING("HTTP gateway: accept: %s", ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) Accept();
    });
    return;
  }
  std::shared_ptr<HttpSession> session;
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_ && sessions_.size() < static_cast<size_t>(options_.max_connections)) {
      session = std::make_shared<HttpSession>(this, std::move(socket));
      sessions_.emplace(session.get(), session);
    }
  }
  if (session != nullptr) {
    session->Start();
  } else {
    beast::error_code ignored;
    socket.close(ignored);
  }
  Accept();
}

void HttpServer::Impl::Remove(HttpSession* session) {
  std::shared_ptr<HttpSession> last;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  last = std::move(it->second);
  sessions_.erase(it);
}

void HttpServer::Impl::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  {
    absl::MutexLock lock(&gate_->mu);
    gate_->open = false;
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  beast::error_code ignored;
  acceptor_.close(ignored);
  std::unordered_map<HttpSession*, std::shared_ptr<HttpSession>> sessions;
  {
    absl::MutexLock lock(&mu_);
    sessions.swap(sessions_);
  }
  // HttpSessions still referenced by queued handlers die with the io_context.
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

Status HttpServer::Impl::LoadTls() {
  if (options_.ssl_certfile.empty() && options_.ssl_keyfile.empty()) return absl::OkStatus();
  SHOAL_ASSIGN_OR_RETURN(tls_,
                         internal::ServerTlsContext(options_.ssl_certfile, options_.ssl_keyfile));
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Gateway* gateway, const Options& options) {
  auto impl = std::make_unique<Impl>(gateway, options);
  SHOAL_RETURN_IF_ERROR(impl->LoadTls());
  SHOAL_RETURN_IF_ERROR(impl->Listen());
  impl->StartThreads();
  SHOAL_LOG_INFO("HTTP gateway '%s' serving %s on %s:%d", options.name,
                 impl->tls() != nullptr ? "HTTPS" : "HTTP", options.host, impl->port());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port(); }

void HttpServer::Shutdown() { impl_->Shutdown(); }

}  // namespace shoal::gateway
