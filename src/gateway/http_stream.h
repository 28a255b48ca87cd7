// Internal to http_server.cc: the byte stream of one HTTP connection, plain TCP or TLS over it
// (Boost.Asio ssl on OpenSSL), behind one type that Beast reads and writes as any stream; and
// the body type requests are read into.
#ifndef SHOAL_GATEWAY_HTTP_STREAM_H_
#define SHOAL_GATEWAY_HTTP_STREAM_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shoal/status.h"

namespace shoal::gateway::internal {

// A server TLS context from PEM files; the error names the file that cannot be loaded.
inline StatusOr<std::shared_ptr<boost::asio::ssl::context>> ServerTlsContext(
    const std::string& certfile, const std::string& keyfile) {
  namespace ssl = boost::asio::ssl;
  if (certfile.empty() != keyfile.empty()) {
    return absl::InvalidArgumentError(
        "HTTP gateway: ssl_certfile and ssl_keyfile go together (one of them is empty)");
  }
  std::shared_ptr<ssl::context> context;
  try {
    context = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HTTP gateway: no TLS context: ", e.what()));
  }
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (context->use_certificate_chain_file(certfile, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP gateway: ssl_certfile '", certfile,
                                                   "' cannot be loaded: ", ec.message()));
  }
  if (context->use_private_key_file(keyfile, ssl::context::pem, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP gateway: ssl_keyfile '", keyfile, "' cannot be loaded: ", ec.message()));
  }
  return context;
}

// A request body held as a std::string that grows as bytes arrive: unlike Beast's string_body,
// nothing is reserved for a declared Content-Length, so memory follows what was sent (and
// what HttpSession has accounted for in the server's body budget).
struct GrowingStringBody {
  using value_type = std::string;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      size_t n = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        boost::asio::const_buffer b = *it;
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// Not thread-safe: used on its connection's strand only.
class HttpStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // TLS when `context` is not null (then Handshake() before anything else).
  HttpStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* context) {
    if (context != nullptr) {
      tls_.emplace(boost::beast::tcp_stream(std::move(socket)), *context);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  bool is_tls() const { return tls_.has_value(); }
  executor_type get_executor() { return tcp().get_executor(); }
  boost::beast::tcp_stream& tcp() {
    return tls_.has_value() ? boost::beast::get_lowest_layer(*tls_) : *plain_;
  }

  template <class Handler>
  void Handshake(Handler&& handler) {
    tls_->async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(handler));
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_.has_value()) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_.has_value()) {
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

 private:
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<Tls> tls_;
};

}  // namespace shoal::gateway::internal

#endif  // SHOAL_GATEWAY_HTTP_STREAM_H_
