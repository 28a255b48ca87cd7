// Replica addresses as users write them: `host:port`, `grpc://host:port`, `grpcs://host:port`
// (TLS for that address alone).
#ifndef SHOAL_ROUTING_ADDRESS_H_
#define SHOAL_ROUTING_ADDRESS_H_

#include <string>
#include <string_view>

#include "shoal/status.h"

namespace shoal::routing {

struct Address {
  std::string host;
  int port = 0;
  bool tls = false;
  std::string target() const;    // host:port, as gRPC dials it
  std::string ToString() const;  // with the scheme, as the user wrote it
  bool operator==(const Address&) const = default;
};

// Errors name the text: a missing or out-of-range port, an unknown scheme, an empty host.
StatusOr<Address> ParseAddress(std::string_view text);

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_ADDRESS_H_
