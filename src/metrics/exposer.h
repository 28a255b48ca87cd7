// Serves the process-wide metrics registry (metrics.h) in the Prometheus text format over HTTP
// at /metrics on a monitoring port. Boost types stay in exposer.cc.
#ifndef SHOAL_METRICS_EXPOSER_H_
#define SHOAL_METRICS_EXPOSER_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/time/time.h"
#include "shoal/status.h"

namespace shoal::metrics {

// Limits of the monitoring port's HTTP server.
struct ExposerOptions {
  size_t max_header_bytes = 8 << 10;  // request line and headers; over: 431, connection closed
  int max_connections = 64;           // further connections are closed at once
  absl::Duration idle_timeout = absl::Seconds(10);  // idle keep-alive, or a stalled read/write
};

// Thread-safe. Listens from StartExposer() until destroyed; the port is released then.
// `GET /metrics` (and HEAD) answers 200 with the text format; any other path 404; another
// method on /metrics 405. A request with a body is refused (413) and its connection closed.
// One io thread ("metrics-http") serves every connection.
class Exposer {
 public:
  ~Exposer();
  Exposer(const Exposer&) = delete;
  Exposer& operator=(const Exposer&) = delete;

  int port() const { return port_; }

  class Impl;

 private:
  friend StatusOr<std::unique_ptr<Exposer>> StartExposer(std::string_view host, int port,
                                                         const ExposerOptions& options);
  Exposer(std::unique_ptr<Impl> impl, int port);

  std::unique_ptr<Impl> impl_;
  int port_;
};

// Listens on host:port (port 0: any free port; port() tells which). The error names the
// address when it cannot be bound.
StatusOr<std::unique_ptr<Exposer>> StartExposer(std::string_view host, int port,
                                                const ExposerOptions& options = {});

}  // namespace shoal::metrics

#endif  // SHOAL_METRICS_EXPOSER_H_
