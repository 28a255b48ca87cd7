// HttpServer over Boost.Beast (Debian's libboost-dev 1.74, header-only) on Boost.Asio: one
// io_context run by a few threads, a strand per connection, every socket operation async.
// Chosen over cpp-httplib 0.11 for many concurrent keep-alive clients: httplib is blocking and
// parks one pool thread on each open connection (idle keep-alive ones included), so N clients
// need N threads or queue behind each other, while Beast holds an idle connection as a pending
// read costing a buffer and no thread, and a request waiting on the Gateway costs none either.
// Beast reports errors through error_code; the few throwing calls are caught here.
#include "src/gateway/http_server.h"

#include <pthread.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/log.h"
#include "src/gateway/http_server_impl.h"
#include "src/gateway/http_session.h"

namespace shoal::gateway {

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
