// Server and channel credentials; the token travels through a client interceptor, since gRPC
// sends call credentials only over TLS and the token must also work on a plaintext network.
#include "src/rpc/tls.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/rpc/auth.h"
#include "src/rpc/callback_queue.h"

namespace shoal::rpc {
namespace {

// Adds `authorization: Bearer <token>` to the initial metadata of every call.
class TokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* bearer) : bearer_(bearer) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kAuthorizationKey, *bearer_);
    }
    methods->Proceed();
  }

 private:
  const std::string* const bearer_;  // owned by the factory, which the channel keeps
};

class TokenInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string_view token) : bearer_(BearerValue(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new TokenInterceptor(&bearer_);
  }

 private:
  const std::string bearer_;
};

StatusOr<std::string> Read(const std::string& path, PemKind kind, std::string_view what) {
  StatusOr<std::string> pem = ReadPemFile(path, kind);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(std::string(what) + ": " +
                                      std::string(pem.status().message()));
  }
  return pem;
}

}  // namespace

StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  if (files.certfile.empty() || files.keyfile.empty()) {
    return absl::InvalidArgumentError(
        "serving TLS needs both a certificate file and a private key file");
  }
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  SHOAL_ASSIGN_OR_RETURN(pair.cert_chain,
                         Read(files.certfile, PemKind::kCertificate, "TLS certificate"));
  SHOAL_ASSIGN_OR_RETURN(pair.private_key,
                         Read(files.keyfile, PemKind::kPrivateKey, "TLS private key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!files.cafile.empty()) {
    SHOAL_ASSIGN_OR_RETURN(options.pem_root_certs,
                           Read(files.cafile, PemKind::kCertificate, "TLS CA"));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const std::string& target,
                                                       const ChannelSecurity& security,
                                                       const grpc::ChannelArguments& args) {
  HoldCallbackQueue();  // before any channel can make a callback call
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (security.tls) {
    grpc::SslCredentialsOptions ssl;
    const TlsFiles& files = security.files;
    if (!files.cafile.empty()) {
      SHOAL_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                             Read(files.cafile, PemKind::kCertificate, "TLS CA"));
    }
    if (!files.certfile.empty() || !files.keyfile.empty()) {
      if (files.certfile.empty() || files.keyfile.empty()) {
        return absl::InvalidArgumentError(
            "a client certificate needs both a certificate file and a private key file");
      }
      SHOAL_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                             Read(files.certfile, PemKind::kCertificate, "TLS certificate"));
      SHOAL_ASSIGN_OR_RETURN(ssl.pem_private_key,
                             Read(files.keyfile, PemKind::kPrivateKey, "TLS private key"));
    }
    credentials = grpc::SslCredentials(ssl);
  }
  if (security.auth_token.empty()) return grpc::CreateCustomChannel(target, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(security.auth_token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args,
                                                                 std::move(factories));
}

}  // namespace shoal::rpc
