// The shared-secret token: loading, constant-time comparison, the server-side check.
#include "src/rpc/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace shoal::rpc {

std::string BearerValue(std::string_view token) { return "Bearer " + std::string(token); }

namespace {

// SHA-256 of `s`; false when OpenSSL fails.
bool Digest(std::string_view s, unsigned char (&out)[EVP_MAX_MD_SIZE], unsigned int* size) {
  return EVP_Digest(s.data(), s.size(), out, size, EVP_sha256(), nullptr) == 1;
}

}  // namespace

bool TokenMatches(std::string_view presented, std::string_view token) {
  if (token.empty()) return false;
  constexpr std::string_view kScheme = "bearer ";
  if (presented.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(presented.data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return false;
  }
  absl::string_view given = absl::StripAsciiWhitespace(
      absl::string_view(presented.data() + kScheme.size(), presented.size() - kScheme.size()));
  unsigned char a[EVP_MAX_MD_SIZE];
  unsigned char b[EVP_MAX_MD_SIZE];
  unsigned int a_size = 0;
  unsigned int b_size = 0;
  if (!Digest(std::string_view(given.data(), given.size()), a, &a_size) ||
      !Digest(token, b, &b_size) || a_size != b_size) {
    return false;
  }
  return CRYPTO_memcmp(a, b, a_size) == 0;
}

StatusOr<std::string> LoadAuthToken(const std::string& token_file) {
  if (token_file.empty()) {
    const char* env = std::getenv(kAuthTokenEnv);
    return std::string(env == nullptr ? "" : env);
  }
  std::ifstream in(token_file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth-token-file: '", token_file, "' cannot be read"));
  }
  std::string token(absl::StripTrailingAsciiWhitespace(line));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth-token-file: '", token_file, "' holds no token on its first line"));
  }
  return token;
}

grpc::Status CheckAuth(const grpc::CallbackServerContext& context, std::string_view token) {
  if (token.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kAuthorizationKey);
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this server needs a token: send metadata 'authorization: Bearer <token>' "
                        "(shoal: --auth-token-file or env SHOAL_AUTH_TOKEN)");
  }
  if (!TokenMatches(std::string_view(it->second.data(), it->second.size()), token)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the token in metadata 'authorization' is not this server's");
  }
  return grpc::Status::OK;
}

bool Admit(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
           std::string_view token) {
  grpc::Status auth = CheckAuth(*context, token);
  if (auth.ok()) return true;
  reactor->Finish(auth);
  return false;
}

}  // namespace shoal::rpc
