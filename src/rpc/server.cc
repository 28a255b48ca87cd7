#include "src/rpc/server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include "absl/strings/str_cat.h"
#include "src/rpc/reflection.h"
#include "src/rpc/tls.h"

namespace shoal::rpc {

std::string ListenAddress(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const ServerOptions& options, absl::FunctionRef<void(grpc::ServerBuilder&)> register_services,
    const std::vector<std::string>& service_names, int* port) {
  StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  InitReflection();
  grpc::ServerBuilder builder;
  SetReflection(builder, options.reflection);
  const std::string address = ListenAddress(options.host, options.port);
  builder.AddListeningPort(address, *credentials, port);
  // A port already taken must fail here, not be shared with another process.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  if (options.max_memory_bytes > 0) {
    grpc::ResourceQuota quota("shoal-server");  // the built server keeps a reference
    quota.Resize(static_cast<size_t>(options.max_memory_bytes));
    builder.SetResourceQuota(quota);
  }
  register_services(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address,
                                               ": the port is in use or the address is invalid"));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus("", true);
  for (const std::string& name : service_names) health->SetServingStatus(name, true);
  return server;
}

}  // namespace shoal::rpc
