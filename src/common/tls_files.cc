// Reading PEM files, with errors a user can act on.
#include "src/common/tls_files.h"

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace shoal {

StatusOr<std::string> ReadPemFile(const std::string& path, PemKind kind) {
  if (path.empty()) return absl::InvalidArgumentError("no file given");
  std::ifstream in(path, std::ios::binary);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in) return absl::InvalidArgumentError(absl::StrCat("'", path, "' cannot be read"));
  // "-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN EC ...".
  const bool found = kind == PemKind::kCertificate
                         ? pem.find("-----BEGIN CERTIFICATE-----") != std::string::npos
                         : pem.find("PRIVATE KEY-----") != std::string::npos &&
                               pem.find("-----BEGIN ") != std::string::npos;
  if (!found) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' holds no PEM ",
        kind == PemKind::kCertificate ? "certificate (-----BEGIN CERTIFICATE-----)"
                                      : "private key (-----BEGIN ... PRIVATE KEY-----)"));
  }
  return pem;
}

}  // namespace shoal
