// Replica addresses as users write them: `host:port`, `grpc://host:port`, `grpcs://host:port`
// (TLS for that address alone), and `dns:///name:port`: every address the name resolves to,
// re-resolved while the router runs (a Kubernetes headless Service's pods).
#ifndef SHOAL_ROUTING_ADDRESS_H_
#define SHOAL_ROUTING_ADDRESS_H_

#include <memory>
#include <string>
#include <string_view>

#include "shoal/status.h"

namespace shoal::routing {

class LocalReplica;

struct Address {
  std::string host;
  int port = 0;
  bool tls = false;
  bool dns = false;  // dns:///: stands for the addresses `host` resolves to
  // The replica's name in errors to clients ("indexer/rep-1"); empty: not known.
  std::string name;
  // A replica that a Shoal orchestrator started: Call streams to it carry batches
  // (shoal.v1.DataBatchRPC, rpc/batch_frames.h) rather than one request per message.
  bool batch_streams = false;
  // A replica in this process (local_replica.h): unary data requests go to it directly; the
  // gRPC server at host:port takes the rest.
  std::shared_ptr<LocalReplica> local;
  std::string target() const;    // host:port, as gRPC dials it
  std::string ToString() const;  // with the scheme, as the user wrote it
  bool operator==(const Address&) const = default;
};

// Errors name the text: a missing or out-of-range port, an unknown scheme, an empty host.
StatusOr<Address> ParseAddress(std::string_view text);

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_ADDRESS_H_
