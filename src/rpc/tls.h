// gRPC credentials from TlsFiles: what a server listens with and how a caller dials, with the
// shared-secret token attached to every call of a channel.
#ifndef SHOAL_RPC_TLS_H_
#define SHOAL_RPC_TLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "shoal/status.h"
#include "src/common/tls_files.h"

namespace shoal::rpc {

// Insecure when `files` has no certfile; TLS with certfile + keyfile (both needed); with a
// cafile as well, clients must present a certificate it signed (mTLS). Errors name the file.
StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const TlsFiles& files);

// How a caller reaches a server.
struct ChannelSecurity {
  bool tls = false;        // grpcs://
  TlsFiles files;          // cafile: roots (empty: the system's); certfile + keyfile: mTLS
  std::string auth_token;  // sent as `authorization: Bearer <token>` on every call; empty: none
};

// A channel to `target` (host:port or a gRPC URI) with `security`. Errors name the file.
StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const std::string& target,
                                                       const ChannelSecurity& security,
                                                       const grpc::ChannelArguments& args);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_TLS_H_
