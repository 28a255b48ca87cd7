// Parsing of `[scheme://]host:port` replica addresses.
#include "src/routing/address.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace shoal::routing {

std::string Address::target() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

std::string Address::ToString() const {
  return absl::StrCat(dns ? "dns:///" : tls ? "grpcs://" : "grpc://", target());
}

StatusOr<Address> ParseAddress(std::string_view text) {
  Address address;
  std::string_view rest = text;
  size_t scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    std::string_view scheme = rest.substr(0, scheme_end);
    if (scheme == "grpcs") {
      address.tls = true;
    } else if (scheme == "dns") {
      address.dns = true;
    } else if (scheme != "grpc") {
      return absl::InvalidArgumentError(absl::StrCat("address '", AsAbsl(text),
                                                     "': unsupported scheme '", AsAbsl(scheme),
                                                     "' (use grpc://, grpcs:// or dns:///)"));
    }
    rest = rest.substr(scheme_end + 3);
    // dns:///name:port has an empty authority; dns://authority/name:port names a DNS server,
    // which is not supported (the system resolver is used).
    if (address.dns) {
      if (rest.empty() || rest.front() != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("address '", AsAbsl(text),
                         "': write dns:///name:port (a DNS server in the address "
                         "is not supported)"));
      }
      rest.remove_prefix(1);
    }
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", AsAbsl(text), "': no port (expected host:port)"));
  }
  std::string_view host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("address '", AsAbsl(text), "': empty host"));
  }
  if (!absl::SimpleAtoi(AsAbsl(rest.substr(colon + 1)), &address.port) || address.port <= 0 ||
      address.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", AsAbsl(text), "': port must be a number in 1..65535"));
  }
  address.host = std::string(host);
  return address;
}

}  // namespace shoal::routing
