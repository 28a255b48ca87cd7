// Exposer: a small HTTP/1.1 server over Boost.Beast (header-only) on one Asio io thread, with
// prometheus-cpp used only as the registry and text serializer (RenderText). Every socket
// operation is async and has a timeout; a connection serves one request at a time (keep-alive).
// Chosen over prometheus-cpp's civetweb exposer, whose error page crashed the process on any
// path but /metrics.
#include "src/metrics/exposer.h"

#include <pthread.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/log.h"
#include "src/common/strings.h"
#include "src/metrics/metrics.h"

namespace shoal::metrics {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr char kTextFormat[] = "text/plain; version=0.0.4; charset=utf-8";

std::string Address(std::string_view host, int port) {
  return host.find(':') != std::string_view::npos ? absl::StrCat("[", AsAbsl(host), "]:", port)
                                                  : absl::StrCat(AsAbsl(host), ":", port);
}

}  // namespace

class Exposer::Impl {
 public:
  explicit Impl(const ExposerOptions& options)
      : options_(options), acceptor_(ioc_), retry_(ioc_), work_(net::make_work_guard(ioc_)) {}
  ~Impl() {
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    // Sessions still held by pending handlers are destroyed with the io_context, below.
  }

  Status Listen(std::string_view host, int port);
  void Run();
  int port() const { return port_; }

  const ExposerOptions& options() const { return options_; }
  std::atomic<int>& connections() { return connections_; }

 private:
  void Accept();

  const ExposerOptions options_;
  int port_ = 0;
  std::atomic<int> connections_{0};  // outlives ioc_: sessions decrement it when destroyed
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
};

namespace {

// One connection; lives as long as one of its async operations holds it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Exposer::Impl* server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)) {}
  ~Session() { server_->connections().fetch_sub(1, std::memory_order_relaxed); }

  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options().max_header_bytes));
    parser_->body_limit(0);  // GET carries no body
    stream_.expires_after(absl::ToChronoNanoseconds(server_->options().idle_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

 private:
  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::header_limit) {
      Reply(http::status::request_header_fields_too_large,
            absl::StrCat("request headers over ", server_->options().max_header_bytes, " bytes\n"),
            false);
      return;
    }
    if (ec == http::error::body_limit) {
      Reply(http::status::payload_too_large, "a request to the metrics port has no body\n", false);
      return;
    }
    if (ec) {  // end of stream, idle timeout, reset, or not HTTP
      Close();
      return;
    }
    const auto& request = parser_->get();
    version_ = request.version();
    head_ = request.method() == http::verb::head;
    bool keep_alive = request.keep_alive();
    std::string_view target(request.target().data(), request.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics") {
      Reply(http::status::not_found, "not found: the metrics are at /metrics\n", keep_alive);
    } else if (request.method() != http::verb::get && !head_) {
      Reply(http::status::method_not_allowed, "GET /metrics only\n", keep_alive);
    } else {
      std::string text;
      try {
        text = RenderText();
      } catch (const std::exception& e) {  // prometheus-cpp may throw; the port keeps serving
        Reply(http::status::internal_server_error, absl::StrCat(e.what(), "\n"), false);
        return;
      }
      Reply(http::status::ok, std::move(text), keep_alive, kTextFormat);
    }
  }

  void Reply(http::status status, std::string body, bool keep_alive,
             const char* type = "text/plain; charset=utf-8") {
    parser_.reset();
    response_ = {};
    response_.version(version_);
    response_.result(status);
    response_.set(http::field::server, "shoal");
    response_.set(http::field::content_type, type);
    if (status == http::status::method_not_allowed) response_.set(http::field::allow, "GET, HEAD");
    response_.keep_alive(keep_alive);
    response_.body() = std::move(body);
    response_.prepare_payload();
    if (head_) response_.body().clear();  // Content-Length stays that of the GET answer
    keep_alive_ = keep_alive;
    stream_.expires_after(absl::ToChronoNanoseconds(server_->options().idle_timeout));
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec || !keep_alive_) {
      Close();
      return;
    }
    head_ = false;
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  Exposer::Impl* const server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  unsigned version_ = 11;
  bool head_ = false;
  bool keep_alive_ = false;
};

}  // namespace

Status Exposer::Impl::Listen(std::string_view host, int port) {
  const std::string address = Address(host, port);
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto resolved =
      resolver.resolve(std::string(host), std::to_string(port), tcp::resolver::passive, ec);
  if (ec || resolved.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", ec.message()));
  }
  tcp::endpoint endpoint = resolved.begin()->endpoint();
  auto fail = [&](const char* what) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", what, ": ", ec.message()));
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return fail("open");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return fail("options");
  if (acceptor_.bind(endpoint, ec)) return fail("bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return fail("listen");
  tcp::endpoint local = acceptor_.local_endpoint(ec);
  if (ec) return fail("local address");
  port_ = local.port();
  return absl::OkStatus();
}

void Exposer::Impl::Run() {
  Accept();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "metrics-http");
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {  // a bug in a handler; keep serving the others
        SHOAL_LOG_ERROR("metrics port: %s", e.what());
      }
    }
  });
}

void Exposer::Impl::Accept() {
  acceptor_.async_accept(ioc_, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {  // out of descriptors and the like: back off instead of spinning
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    if (connections_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
      connections_.fetch_sub(1, std::memory_order_relaxed);
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(this, std::move(socket))->Read();
    }
    Accept();
  });
}

Exposer::Exposer(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}

Exposer::~Exposer() = default;

StatusOr<std::unique_ptr<Exposer>> StartExposer(std::string_view host, int port,
                                                const ExposerOptions& options) {
  auto impl = std::make_unique<Exposer::Impl>(options);
  SHOAL_RETURN_IF_ERROR(impl->Listen(host, port));
  int bound = impl->port();
  impl->Run();
  return std::unique_ptr<Exposer>(new Exposer(std::move(impl), bound));
}

}  // namespace shoal::metrics
