// Exposer: prometheus-cpp's civetweb server, with its exceptions turned into a Status here.
#include "src/metrics/exposer.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"
#include "src/metrics/metrics.h"

namespace shoal::metrics {

Exposer::Exposer(std::unique_ptr<prometheus::Exposer> server, int port)
    : server_(std::move(server)), port_(port) {}

Exposer::~Exposer() = default;

StatusOr<std::unique_ptr<Exposer>> StartExposer(std::string_view host, int port) {
  std::string address = host.find(':') != std::string_view::npos
                            ? absl::StrCat("[", AsAbsl(host), "]:", port)
                            : absl::StrCat(AsAbsl(host), ":", port);
  std::unique_ptr<prometheus::Exposer> server;
  try {
    server = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  std::vector<int> ports = server->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": no listening port"));
  }
  server->RegisterCollectable(Registry());
  server->RegisterCollectable(SampledGauges());
  int bound = ports.front();
  return std::unique_ptr<Exposer>(new Exposer(std::move(server), bound));
}

}  // namespace shoal::metrics
