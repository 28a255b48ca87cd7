// The HTTP server's shared parts: the server (HttpServer::Impl) that owns the io_context, the
// listening socket and the open sessions, and what sessions borrow from it. Internal to
// http_server.cc and http_session.cc.
#ifndef SHOAL_GATEWAY_HTTP_SERVER_IMPL_H_
#define SHOAL_GATEWAY_HTTP_SERVER_IMPL_H_

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/gateway/doc_stream.h"
#include "src/gateway/http_server.h"

namespace shoal::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// Whether gateway completions may still reach the io_context. Co-owned by the server and every
// completion in flight; closed (under mu) before the io_context goes away.
struct Gate {
  absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = true;
};

inline std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
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

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_HTTP_SERVER_IMPL_H_
