// Resolve(): getaddrinfo for TCP, numeric results only.
#include "src/routing/resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace shoal::routing {

StatusOr<std::vector<Address>> Resolve(const Address& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(name.host.c_str(), nullptr, &hints, &found);
  if (error != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve '", name.host, "': ", gai_strerror(error)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, &freeaddrinfo);
  std::vector<std::pair<int, std::string>> hosts;  // (family order, numeric host)
  for (const addrinfo* info = found; info != nullptr; info = info->ai_next) {
    char host[NI_MAXHOST];
    if (getnameinfo(info->ai_addr, info->ai_addrlen, host, sizeof(host), nullptr, 0,
                    NI_NUMERICHOST) != 0) {
      continue;
    }
    hosts.emplace_back(info->ai_family == AF_INET ? 0 : 1, host);
  }
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  std::vector<Address> out;
  for (const auto& [family, host] : hosts) {
    out.push_back(Address{.host = host, .port = name.port, .tls = name.tls});
  }
  if (out.empty()) {
    return absl::UnavailableError(absl::StrCat("'", name.host, "' resolves to no address"));
  }
  return out;
}

}  // namespace shoal::routing
