// The gateway's gRPC server: Jina's client-facing services (Call, process_single_data,
// process_data for a single Deployment, endpoint_discovery, dry_run, _status), grpc.health.v1
// and reflection, over a Gateway. Requests and answers stay serialized bytes end to end.
#ifndef SHOAL_GATEWAY_GATEWAY_SERVER_H_
#define SHOAL_GATEWAY_GATEWAY_SERVER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/common/tls_files.h"
#include "src/gateway/gateway.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace shoal::gateway {

// Thread-safe. Serving from Start() until Shutdown().
class GatewayServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    int port = 0;         // 0: any free port
    int prefetch = 1000;  // requests in flight per Call stream unless the client asks fewer
    std::string name = "gateway";
    // Larger requests are refused by gRPC with RESOURCE_EXHAUSTED; -1: no limit. 64 MiB, as
    // a replica's (replica/server.h says why).
    int max_receive_message_bytes = 64 << 20;
    int max_send_message_bytes = -1;
    // Jina's ssl_certfile/ssl_keyfile: serve TLS; with a cafile, require client certificates.
    TlsFiles tls;
    // When set, every call but grpc.health must carry `authorization: Bearer <token>`.
    std::string auth_token;
    bool reflection = true;  // grpc.reflection.v1alpha
  };
  static StatusOr<std::unique_ptr<GatewayServer>> Start(Gateway* gateway, const Options& options);
  ~GatewayServer();

  int port() const { return port_; }
  // NOT_SERVING, then waits up to `grace` for in-flight calls. Idempotent.
  void Shutdown(absl::Duration grace);

  class Services;

 private:
  GatewayServer() = default;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_GATEWAY_SERVER_H_
