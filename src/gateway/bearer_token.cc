#include "src/gateway/bearer_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "src/common/strings.h"

namespace shoal::gateway {
namespace {

// SHA-256 of `s`; false when OpenSSL fails.
bool Digest(std::string_view s, unsigned char (&out)[EVP_MAX_MD_SIZE], unsigned int* size) {
  return EVP_Digest(s.data(), s.size(), out, size, EVP_sha256(), nullptr) == 1;
}

}  // namespace

bool BearerTokenMatches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(AsAbsl(authorization.substr(0, kScheme.size())), AsAbsl(kScheme))) {
    return false;
  }
  absl::string_view stripped =
      absl::StripAsciiWhitespace(AsAbsl(authorization.substr(kScheme.size())));
  std::string_view given(stripped.data(), stripped.size());
  // Digests of equal size, compared without an early exit: neither the length nor a prefix of
  // the token leaks through timing.
  unsigned char a[EVP_MAX_MD_SIZE];
  unsigned char b[EVP_MAX_MD_SIZE];
  unsigned int a_size = 0;
  unsigned int b_size = 0;
  if (!Digest(given, a, &a_size) || !Digest(token, b, &b_size) || a_size != b_size) return false;
  return CRYPTO_memcmp(a, b, a_size) == 0;
}

}  // namespace shoal::gateway
