// The replicas of one shard as the router sees them: a gRPC channel each, the requests in flight
// to each, and whether each is healthy. Picks the least loaded healthy replica, ejects replicas
// that fail, and re-admits them when a health probe finds them SERVING again.
#ifndef SHOAL_ROUTING_REPLICA_SET_H_
#define SHOAL_ROUTING_REPLICA_SET_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/metrics/metrics.h"
#include "src/routing/address.h"

namespace shoal::routing {

// What the router uses of one replica for one call; keeps the channel alive while in use.
struct Endpoint {
  Address address;
  std::string display;  // address.ToString(), formatted once
  // How errors to clients name the replica: its name ("indexer/rep-1"), not its address,
  // unless the set's Options::expose_addresses.
  std::string label;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  metrics::RouteMetrics metrics;  // labels: the Deployment, address.target()
  // Leases held on this endpoint (calls and stream messages in flight): what a replica that left
  // the set still has to answer (ReplicaSet::LeftInFlight). An idle stream holds none.
  std::atomic<int> leased{0};
};

struct ReplicaStats {
  std::string address;
  int outstanding = 0;
  bool healthy = true;
  uint64_t requests = 0;
  uint64_t failures = 0;
  uint64_t ejections = 0;
};

// Thread-safe. Owns a prober thread that checks grpc.health.v1 on every replica each
// `probe_interval`. States per replica: healthy <-> ejected.
class ReplicaSet {
 public:
  struct Options {
    std::string name;  // for logs and errors, e.g. "indexer/shard-0"
    absl::Duration probe_interval = absl::Seconds(1);
    absl::Duration probe_timeout = absl::Milliseconds(500);
    std::string tls_ca_file;  // roots for grpcs:// addresses; empty: system
    // A client certificate for grpcs:// replicas that require one (internal_tls, mTLS).
    std::string tls_certfile;
    std::string tls_keyfile;
    std::string auth_token;    // sent on every call as `authorization: Bearer <token>`
    bool round_robin = false;  // Jina's policy instead of least loaded
    // Errors to clients give replicas' host:port (a debugging aid) instead of their names.
    bool expose_addresses = false;
  };
  // `addresses` as for SetAddresses; a dns:/// name is resolved before the constructor returns.
  ReplicaSet(std::vector<Address> addresses, Options options);
  ~ReplicaSet();

  struct Lease {
    size_t index;         // the replica's position when acquired (a hint: SetAddresses moves it)
    uint64_t replica_id;  // which replica, for Release
    std::shared_ptr<Endpoint> endpoint;
  };
  // The least loaded replica whose bit is not set in `tried` (healthy ones first); counts the
  // call as outstanding until Release. nullopt when all were tried or the set is empty. With
  // an `endpoint` whose leader is known (NoteLeader), that replica while it is healthy and
  // untried.
  std::optional<Lease> Acquire(uint64_t tried, std::string_view endpoint = {});
  // Ends the call of `lease`. A transport failure (UNAVAILABLE) ejects the replica until a probe
  // finds it SERVING again; a stateful shard's follower refusing the call (`not_leader`,
  // rpc/leader.h) is healthy and is not ejected.
  void Release(const Lease& lease, const grpc::Status& status, bool not_leader = false);

  // Stateful shards: `lease`'s replica took `endpoint` after another refused it as "not the
  // leader" / refused it itself. Writes (and linearizable reads) then go to the leader first.
  void NoteLeader(std::string_view endpoint, const Lease& lease);
  void ForgetLeader(std::string_view endpoint, const Lease& lease);

  // Points replica `index` at a new address (a restarted local replica on another port).
  void SetAddress(size_t index, const Address& address);
  // Makes the set exactly `addresses` (dns:/// ones stand for what they resolve to, followed
  // every probe_interval), in that order: replicas at an address already in the set keep their
  // channel, load and health; new ones start healthy; the others leave (calls in flight to them
  // finish). For scaling a Deployment. With a `connect_wait`, new replicas join once their
  // channel is connected, waited for at most that long together (one that is not connected by
  // then joins anyway): a replica that is ready then does not make its first calls pay for the
  // connection (the slowest calls of a rolling update did).
  void SetAddresses(const std::vector<Address>& addresses,
                    absl::Duration connect_wait = absl::ZeroDuration());
  // Ejects or re-admits a replica at once (the supervisor saw it die or become ready).
  void SetHealthy(size_t index, bool healthy);
  // Jina's round robin instead of least loaded, from the next Acquire on (load_balancing).
  void SetRoundRobin(bool round_robin) ABSL_LOCKS_EXCLUDED(mu_);
  bool round_robin() const ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const;
  const std::string& name() const { return options_.name; }
  std::vector<ReplicaStats> Stats() const;
  // Addresses as text, for error messages.
  std::string Describe() const;
  // Endpoints that left the set but may still be in use by a call (for tests: stays small).
  size_t retired_size() const;
  // Calls still running on a replica at `address` that left the set (SetAddresses): what a
  // replica taken out of service has left to finish before it may stop.
  int LeftInFlight(const Address& address) const;

 private:
  struct Replica {
    uint64_t id = 0;  // unique in this set, kept across SetAddress
    std::shared_ptr<Endpoint> endpoint;
    int outstanding = 0;
    bool healthy = true;
    uint64_t requests = 0;
    uint64_t failures = 0;
    uint64_t ejections = 0;
  };
  std::shared_ptr<Endpoint> Connect(const Address& address) const;
  Replica* FindLocked(const Lease& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps `endpoint` until no call holds it, and moves the retired endpoints that no call holds
  // any more into `unused` (destroyed by the caller after unlocking, never in a call's callback).
  void RetireLocked(std::shared_ptr<Endpoint> endpoint,
                    std::vector<std::shared_ptr<Endpoint>>& unused)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `sources` with each dns:/// name replaced by its addresses (the last ones it had when a
  // lookup fails). Blocks while names are looked up.
  std::vector<Address> Expand(const std::vector<Address>& sources) ABSL_LOCKS_EXCLUDED(mu_);
  // Makes the set exactly these concrete addresses (SetAddresses for `connect_wait`).
  void Apply(const std::vector<Address>& addresses,
             absl::Duration connect_wait = absl::ZeroDuration()) ABSL_LOCKS_EXCLUDED(mu_);
  void ProbeLoop();
  bool Probe(const Endpoint& endpoint) const;

  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<Replica> replicas_ ABSL_GUARDED_BY(mu_);
  std::vector<Address> sources_ ABSL_GUARDED_BY(mu_);  // as given, dns:/// names included
  bool dynamic_ ABSL_GUARDED_BY(mu_) = false;          // some source is a dns:/// name
  bool round_robin_ ABSL_GUARDED_BY(mu_) = false;      // options_.round_robin, or as set since
  absl::Mutex resolved_mu_ ABSL_ACQUIRED_AFTER(mu_);
  // The last addresses each dns:/// source resolved to, and the sources warned about.
  std::map<std::string, std::vector<Address>> resolved_ ABSL_GUARDED_BY(resolved_mu_);
  std::set<std::string> warned_ ABSL_GUARDED_BY(resolved_mu_);
  // Replaced or removed endpoints that a call may still hold (see SetAddress).
  std::vector<std::shared_ptr<Endpoint>> retired_ ABSL_GUARDED_BY(mu_);
  uint64_t rotation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Endpoint -> the replica (id) that leads for it; empty unless the shard is stateful.
  std::map<std::string, uint64_t, std::less<>> leaders_ ABSL_GUARDED_BY(mu_);
  uint64_t random_state_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread prober_;
};

}  // namespace shoal::routing

#endif  // SHOAL_ROUTING_REPLICA_SET_H_
