// TLS material as users give it: PEM files of a certificate, its private key and a CA. Plain
// data shared by the config (which checks the files), the servers and the callers.
#ifndef SHOAL_COMMON_TLS_FILES_H_
#define SHOAL_COMMON_TLS_FILES_H_

#include <string>
#include <string_view>

#include "shoal/status.h"

namespace shoal {

// Immutable value. As a server's: certfile + keyfile serve TLS; cafile then requires and
// verifies client certificates (mTLS). As a caller's: cafile verifies the server (empty: the
// system roots); certfile + keyfile are presented to a server that asks for them.
struct TlsFiles {
  std::string certfile;
  std::string keyfile;
  std::string cafile;

  bool enabled() const { return !certfile.empty() || !keyfile.empty() || !cafile.empty(); }
  bool operator==(const TlsFiles&) const = default;
};

enum class PemKind { kCertificate, kPrivateKey };

// The contents of a PEM file holding a certificate (or a private key). Errors name the file and
// say what is wrong: unreadable, or no PEM block of that kind.
StatusOr<std::string> ReadPemFile(const std::string& path, PemKind kind);

}  // namespace shoal

#endif  // SHOAL_COMMON_TLS_FILES_H_
