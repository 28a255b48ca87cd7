// Name resolution for `dns:///name:port` replica addresses: the system resolver (getaddrinfo, so
// /etc/hosts and the cluster's DNS alike), every address the name has.
#ifndef SHOAL_ROUTING_RESOLVER_H_
#define SHOAL_ROUTING_RESOLVER_H_

#include <vector>

#include "shoal/status.h"
#include "src/routing/address.h"

namespace shoal::routing {

// The addresses `name` (an Address with dns set) resolves to, each with its port, IPv4 before
// IPv6, sorted and without duplicates. UNAVAILABLE naming the name when it cannot be resolved.
// Blocks while the resolver works.
StatusOr<std::vector<Address>> Resolve(const Address& name);

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_RESOLVER_H_
