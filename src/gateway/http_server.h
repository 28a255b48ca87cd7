// The gateway's HTTP/JSON front end, in the shape of Jina's HTTP gateway: `POST /post` and
// `POST /<endpoint>` carry docs as JSON through a Gateway; `GET /status`, `GET /dry_run` and
// `GET /health` (also `GET /`) report on it. Boost types stay in http_server.cc.
#ifndef SHOAL_GATEWAY_HTTP_SERVER_H_
#define SHOAL_GATEWAY_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/gateway/gateway.h"

namespace shoal::gateway {

// Thread-safe. Serving from Start() until Shutdown() or destruction. Owns `threads` io threads
// (named "http-io-<i>") that run one event loop; each connection is served on its own strand,
// one request at a time (keep-alive; pipelined requests wait their turn). A request waiting on
// the Gateway holds no thread: the Gateway's completion is posted back to the connection's
// strand. Borrows the Gateway, which must outlive this server.
//
// Status codes: 200 with the answer (an Executor error is 200 too, in header.status, as in
// Jina); 400 invalid JSON or shape (the body names the problem); 401 without the auth_token;
// 404 an unknown GET path; 405 a
// wrong method; 413 a body over max_body_bytes, or over max_docs_per_request or
// max_json_memory_bytes once parsed (counted while parsing); 431 headers over 64 KiB; 503
// UNAVAILABLE (no replica of a Deployment answered; the gRPC message, naming the Deployment, is
// passed through), or the bodies held would pass max_total_body_bytes; 504 DEADLINE_EXCEEDED; 500
// anything else. Error bodies are {"detail": "..."}.
class HttpServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    int port = 0;                       // 0: any free port
    int threads = 2;                    // io threads
    std::string name = "gateway";       // reported by GET /status
    size_t max_body_bytes = 64u << 20;  // one request's body; larger (declared or sent): 413
    // Request bodies held at once, all connections together, counted as their bytes arrive
    // (not as declared); a request whose body would go over is answered 503.
    size_t max_total_body_bytes = size_t{1} << 30;
    // Docs in one request, matches and chunks included (the Flow's max_docs_per_request), and
    // the memory its JSON may expand to while parsed: over either, 413 naming the limit.
    size_t max_docs_per_request = 10000;
    size_t max_json_memory_bytes = size_t{256} << 20;
    int max_connections = 4096;                       // further connections are closed at once
    absl::Duration idle_timeout = absl::Seconds(60);  // idle keep-alive, or a stalled read/write
    // A request's body must arrive whole within this time from its headers (Envoy's
    // request_timeout); else the connection is closed.
    absl::Duration body_timeout = absl::Seconds(30);
    std::optional<absl::Duration> request_timeout;  // Gateway deadline; none: no deadline
    // HTTPS with this PEM certificate (chain) and key, both or neither; a file that cannot be
    // loaded is an error of Start() naming it.
    std::string ssl_certfile;
    std::string ssl_keyfile;
    // When not empty, every request must carry `Authorization: Bearer <auth_token>` (compared
    // in constant time); others get 401 with no detail, before their body is read.
    std::string auth_token;
  };
  static StatusOr<std::unique_ptr<HttpServer>> Start(Gateway* gateway, const Options& options);
  ~HttpServer();

  int port() const;
  // Stops accepting, closes every connection and joins the io threads; requests still in the
  // Gateway are abandoned (their answers are dropped). Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_HTTP_SERVER_H_
