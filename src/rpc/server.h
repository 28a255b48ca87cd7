// The one way Shoal starts a gRPC server (a replica's, a gateway's): the listening address
// (IPv6 hosts in brackets), credentials, message size limits, keepalive, reflection on or off,
// and grpc.health.v1 answering SERVING for the server and each of its services.
#ifndef SHOAL_RPC_SERVER_H_
#define SHOAL_RPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "shoal/status.h"
#include "src/common/tls_files.h"

namespace shoal::rpc {

// ServerOptions::max_memory_bytes by default: room for 16 requests of the default 64 MiB size
// limit at once.
inline constexpr int64_t kDefaultMaxMemoryBytes = int64_t{1} << 30;

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0: any free port
  int max_receive_message_bytes = 4 << 20;
  int max_send_message_bytes = -1;  // -1: no limit
  // gRPC's memory quota (grpc::ResourceQuota) for the server: the bytes its transport holds for
  // calls being received and not yet released. Near it, new calls are refused (the client sees
  // RESOURCE_EXHAUSTED, "RST_STREAM with error code 11"), so that many large requests at once
  // cannot exhaust the process. 0 or -1: no limit.
  int64_t max_memory_bytes = kDefaultMaxMemoryBytes;
  TlsFiles tls;
  bool reflection = true;  // grpc.reflection.v1alpha
};

// "host:port", or "[host]:port" for an IPv6 host.
std::string ListenAddress(const std::string& host, int port);

// A started server. `register_services` adds the services to the builder; `service_names` are
// their full names (e.g. "jina.JinaRPC"), each marked SERVING in grpc.health.v1 along with the
// server as a whole (""). `*port` is set to the port listened on. UNAVAILABLE naming the address
// when the port is taken or the address is invalid; a bad TLS file is an error naming it.
StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const ServerOptions& options, absl::FunctionRef<void(grpc::ServerBuilder&)> register_services,
    const std::vector<std::string>& service_names, int* port);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_SERVER_H_
