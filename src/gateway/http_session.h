// One HTTP connection of the gateway's HTTP server: reads requests (bounded header and body),
// answers /post and the other JSON routes through the Gateway, streams server-sent events, and
// watches for a client that leaves while its request runs. Internal to the HTTP server.
#ifndef SHOAL_GATEWAY_HTTP_SESSION_H_
#define SHOAL_GATEWAY_HTTP_SESSION_H_

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "src/gateway/http_server_impl.h"
#include "src/gateway/http_stream.h"

namespace shoal::gateway {

namespace http = beast::http;

// What a Watch read takes in at most (more waits in the kernel for the next Read).
inline constexpr size_t kWatchBytes = 4096;

// One connection. Runs on its strand only; owned by the server's map until it closes.
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
  internal::HttpStream stream_;
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

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_HTTP_SESSION_H_
