// Serves the process-wide metrics registry (metrics.h) in the Prometheus text format over HTTP
// at /metrics on a monitoring port.
#ifndef SHOAL_METRICS_EXPOSER_H_
#define SHOAL_METRICS_EXPOSER_H_

#include <memory>
#include <string_view>

#include "shoal/status.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace shoal::metrics {

// Thread-safe. Listens from StartExposer() until destroyed; the port is released then.
class Exposer {
 public:
  ~Exposer();
  Exposer(const Exposer&) = delete;
  Exposer& operator=(const Exposer&) = delete;

  int port() const { return port_; }

 private:
  friend StatusOr<std::unique_ptr<Exposer>> StartExposer(std::string_view host, int port);
  Exposer(std::unique_ptr<prometheus::Exposer> server, int port);

  std::unique_ptr<prometheus::Exposer> server_;
  int port_;
};

// Listens on host:port (port 0: any free port; port() tells which). The error names the
// address when it cannot be bound.
StatusOr<std::unique_ptr<Exposer>> StartExposer(std::string_view host, int port);

}  // namespace shoal::metrics

#endif  // SHOAL_METRICS_EXPOSER_H_
