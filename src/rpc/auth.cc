// The shared-secret token: loading, constant-time comparison, the server-side check.
#include "src/rpc/auth.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace shoal::rpc {

std::string BearerValue(std::string_view token) { return "Bearer " + std::string(token); }

bool TokenMatches(std::string_view presented, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (token.empty()) return false;
  // The length of the token is not secret (gRPC metadata shows it on the wire anyway); its bytes
  // are: every byte is compared whatever the earlier ones were.
  if (presented.size() != kScheme.size() + token.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    difference |= static_cast<unsigned char>(presented[i] ^ kScheme[i]);
  }
  for (size_t i = 0; i < token.size(); ++i) {
    difference |= static_cast<unsigned char>(presented[kScheme.size() + i] ^ token[i]);
  }
  return difference == 0;
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

}  // namespace shoal::rpc
