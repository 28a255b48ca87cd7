// ReplicaSet: channels, load accounting, ejection and health probing.
#include "src/routing/replica_set.h"

#include <grpc/grpc.h>
#include <pthread.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/log.h"
#include "src/routing/balancer.h"
#include "src/routing/resolver.h"
#include "src/rpc/tls.h"

namespace shoal::routing {
namespace {

// grpc.health.v1.HealthCheckResponse: field 1 (varint) SERVING = 1.
bool IsServing(const grpc::ByteBuffer& response) {
  grpc::Slice slice;
  if (!response.DumpToSingleSlice(&slice).ok()) return false;
  const uint8_t* p = slice.begin();
  return slice.size() == 2 && p[0] == 0x08 && p[1] == 0x01;
}

bool HasDnsName(const std::vector<Address>& addresses) {
  return std::any_of(addresses.begin(), addresses.end(), [](const Address& a) { return a.dns; });
}

}  // namespace

ReplicaSet::ReplicaSet(std::vector<Address> addresses, Options options)
    : options_(std::move(options)), random_state_(std::random_device{}()) {
  // gRPC stays initialised until the process ends (see Client::Connect for why).
  static const bool kGrpcInitialised = [] {
    grpc_init();
    return true;
  }();
  (void)kGrpcInitialised;
  std::vector<Address> expanded = Expand(addresses);
  {
    absl::MutexLock lock(&mu_);
    sources_ = addresses;
    dynamic_ = HasDnsName(addresses);
    round_robin_ = options_.round_robin;
    for (const Address& address : expanded) {
      replicas_.push_back(Replica{.id = ++last_id_, .endpoint = Connect(address)});
    }
  }
  prober_ = std::thread([this] { ProbeLoop(); });
}

ReplicaSet::~ReplicaSet() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  prober_.join();
}

std::shared_ptr<Endpoint> ReplicaSet::Connect(const Address& address) const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 9999);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 4999);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnect quickly after a replica restarts: the default backoff grows to two minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  rpc::ChannelSecurity security{.tls = address.tls,
                                .files = {.certfile = options_.tls_certfile,
                                          .keyfile = options_.tls_keyfile,
                                          .cafile = options_.tls_ca_file},
                                .auth_token = options_.auth_token};
  StatusOr<std::shared_ptr<grpc::Channel>> channel =
      rpc::CreateChannel(address.target(), security, args);
  if (!channel.ok()) {
    // The files were checked when the Deployment was configured; one that became unreadable
    // since leaves TLS on with the system's roots, so that calls fail rather than go out
    // without the protection asked for.
    SHOAL_LOG_ERROR("%s: %s: %s", options_.name, address.ToString(), channel.status().message());
    security.files = {};
    channel = rpc::CreateChannel(address.target(), security, args);
  }
  auto endpoint = std::make_shared<Endpoint>();
  endpoint->address = address;
  endpoint->display = address.ToString();
  if (options_.expose_addresses) {
    endpoint->label = endpoint->display;
  } else {
    endpoint->label = address.name.empty() ? absl::StrCat(options_.name, " replica") : address.name;
  }
  endpoint->channel = *std::move(channel);
  endpoint->stub = std::make_unique<grpc::GenericStub>(endpoint->channel);
  endpoint->metrics = metrics::ForRoute(metrics::DeploymentOf(options_.name), address.target());
  return endpoint;
}

std::optional<ReplicaSet::Lease> ReplicaSet::Acquire(uint64_t tried, std::string_view endpoint) {
  absl::MutexLock lock(&mu_);
  if (!leaders_.empty() && !endpoint.empty()) {
    auto leader = leaders_.find(endpoint);
    for (size_t i = 0; leader != leaders_.end() && i < replicas_.size(); ++i) {
      Replica& replica = replicas_[i];
      if (replica.id != leader->second) continue;
      if (!replica.healthy || (i < 64 && (tried >> i & 1) != 0)) break;
      ++replica.outstanding;
      ++replica.requests;
      replica.endpoint->metrics.requests.Increment();
      replica.endpoint->metrics.in_flight.Increment();
      replica.endpoint->leased.fetch_add(1, std::memory_order_relaxed);
      return Lease{i, replica.id, replica.endpoint};
    }
  }
  Candidate stack[kFullScanLimit * 4];
  std::vector<Candidate> heap;
  std::span<Candidate> candidates;
  if (replicas_.size() <= std::size(stack)) {
    candidates = std::span<Candidate>(stack, replicas_.size());
  } else {
    heap.resize(replicas_.size());
    candidates = heap;
  }
  for (size_t i = 0; i < replicas_.size(); ++i) {
    candidates[i] = Candidate{.outstanding = replicas_[i].outstanding,
                              .healthy = replicas_[i].healthy,
                              .tried = i < 64 && (tried >> i & 1) != 0};
  }
  random_state_ = random_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  std::optional<size_t> pick = round_robin_
                                   ? PickRoundRobin(candidates, rotation_++)
                                   : PickReplica(candidates, rotation_++, random_state_ >> 17);
  if (!pick.has_value()) return std::nullopt;
  Replica& replica = replicas_[*pick];
  ++replica.outstanding;
  ++replica.requests;
  replica.endpoint->metrics.requests.Increment();
  replica.endpoint->metrics.in_flight.Increment();
  replica.endpoint->leased.fetch_add(1, std::memory_order_relaxed);
  return Lease{*pick, replica.id, replica.endpoint};
}

void ReplicaSet::Release(const Lease& lease, const grpc::Status& status, bool not_leader) {
  // The lease's endpoint, not the replica's current one: its address may have changed since.
  lease.endpoint->metrics.in_flight.Decrement();
  lease.endpoint->leased.fetch_sub(1, std::memory_order_relaxed);
  if (!status.ok()) lease.endpoint->metrics.failures.Increment();
  absl::MutexLock lock(&mu_);
  Replica* found = FindLocked(lease);
  if (found == nullptr) return;  // the replica left the set (SetAddresses)
  Replica& replica = *found;
  --replica.outstanding;
  // A failure at an address the replica no longer has says nothing about the current one.
  // "not the leader" (a stateful replica's follower) is healthy: the request just goes elsewhere.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && replica.endpoint == lease.endpoint &&
      !not_leader) {
    ++replica.failures;
    if (replica.healthy) {
      replica.healthy = false;
      ++replica.ejections;
      replica.endpoint->metrics.ejections.Increment();
      SHOAL_LOG_WARNING("%s: ejected %s (%s)", options_.name, replica.endpoint->address.ToString(),
                        status.error_message());
    }
  }
}

void ReplicaSet::SetAddress(size_t index, const Address& address) {
  std::shared_ptr<Endpoint> endpoint = Connect(address);
  std::vector<std::shared_ptr<Endpoint>> unused;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  if (index >= replicas_.size()) return;
  RetireLocked(std::move(replicas_[index].endpoint), unused);
  replicas_[index].endpoint = std::move(endpoint);
}

void ReplicaSet::RetireLocked(std::shared_ptr<Endpoint> endpoint,
                              std::vector<std::shared_ptr<Endpoint>>& unused) {
  // The old channel lives while a call holds it (its lease): the call's last callback may
  // still run on it, and gRPC 1.51 aborts when a channel is destroyed from inside its own
  // callback. Once only this list holds it, nothing can take it again (it is in no replica),
  // so it is dropped here, outside any callback.
  if (endpoint != nullptr) retired_.push_back(std::move(endpoint));
  auto held = std::partition(retired_.begin(), retired_.end(),
                             [](const std::shared_ptr<Endpoint>& e) { return e.use_count() > 1; });
  std::move(held, retired_.end(), std::back_inserter(unused));
  retired_.erase(held, retired_.end());
}

void ReplicaSet::NoteLeader(std::string_view endpoint, const Lease& lease) {
  if (endpoint.empty()) return;
  absl::MutexLock lock(&mu_);
  // Bounded: endpoints come from the requests; a stateful Executor has a handful.
  if (leaders_.size() >= 64 && leaders_.find(endpoint) == leaders_.end()) leaders_.clear();
  leaders_.insert_or_assign(std::string(endpoint), lease.replica_id);
}

void ReplicaSet::ForgetLeader(std::string_view endpoint, const Lease& lease) {
  absl::MutexLock lock(&mu_);
  auto leader = leaders_.find(endpoint);
  if (leader != leaders_.end() && leader->second == lease.replica_id) leaders_.erase(leader);
}

ReplicaSet::Replica* ReplicaSet::FindLocked(const Lease& lease) {
  if (lease.index < replicas_.size() && replicas_[lease.index].id == lease.replica_id) {
    return &replicas_[lease.index];
  }
  for (Replica& replica : replicas_) {
    if (replica.id == lease.replica_id) return &replica;
  }
  return nullptr;
}

std::vector<Address> ReplicaSet::Expand(const std::vector<Address>& sources) {
  std::vector<Address> out;
  for (const Address& source : sources) {
    if (!source.dns) {
      out.push_back(source);
      continue;
    }
    StatusOr<std::vector<Address>> resolved = Resolve(source);
    absl::MutexLock lock(&resolved_mu_);
    if (resolved.ok()) {
      resolved_[source.ToString()] = *resolved;
    } else if (warned_.insert(source.ToString()).second) {
      // Kept as they were: a failing lookup is more often the resolver than the replicas.
      SHOAL_LOG_WARNING("%s: %s; keeping the addresses it had", options_.name,
                        resolved.status().message());
    }
    if (resolved.ok()) warned_.erase(source.ToString());
    const std::vector<Address>& known = resolved_[source.ToString()];
    out.insert(out.end(), known.begin(), known.end());
  }
  return out;
}

void ReplicaSet::SetAddresses(const std::vector<Address>& sources, absl::Duration connect_wait) {
  {
    absl::MutexLock lock(&mu_);
    sources_ = sources;
    dynamic_ = HasDnsName(sources);
  }
  Apply(Expand(sources), connect_wait);
}

void ReplicaSet::Apply(const std::vector<Address>& addresses, absl::Duration connect_wait) {
  // Channels for the new addresses are made outside the lock.
  std::vector<Address> added;
  {
    absl::MutexLock lock(&mu_);
    for (const Address& address : addresses) {
      bool known = std::any_of(replicas_.begin(), replicas_.end(),
                               [&](const Replica& r) { return r.endpoint->address == address; });
      if (!known) added.push_back(address);
    }
  }
  std::vector<std::shared_ptr<Endpoint>> connected;
  for (const Address& address : added) connected.push_back(Connect(address));
  if (connect_wait > absl::ZeroDuration() && !connected.empty()) {
    const std::chrono::system_clock::time_point deadline =
        absl::ToChronoTime(absl::Now() + connect_wait);
    for (const std::shared_ptr<Endpoint>& e : connected) e->channel->GetState(true);
    for (const std::shared_ptr<Endpoint>& e : connected) e->channel->WaitForConnected(deadline);
  }
  std::vector<std::shared_ptr<Endpoint>> unused;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  std::vector<Replica> next;
  std::vector<bool> kept(replicas_.size(), false);
  for (const Address& address : addresses) {
    size_t i = 0;
    while (i < replicas_.size() && (kept[i] || !(replicas_[i].endpoint->address == address))) ++i;
    if (i < replicas_.size()) {
      kept[i] = true;
      next.push_back(std::move(replicas_[i]));
      continue;
    }
    std::shared_ptr<Endpoint> endpoint;
    for (std::shared_ptr<Endpoint>& c : connected) {
      if (c != nullptr && c->address == address) {
        endpoint = std::move(c);
        break;
      }
    }
    if (endpoint == nullptr) endpoint = Connect(address);  // a duplicate address
    SHOAL_LOG_INFO("%s: added %s", options_.name, address.ToString());
    next.push_back(Replica{.id = ++last_id_, .endpoint = std::move(endpoint)});
  }
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (kept[i]) continue;
    SHOAL_LOG_INFO("%s: removed %s", options_.name, replicas_[i].endpoint->address.ToString());
    // As in SetAddress: calls may still run on the channel.
    RetireLocked(std::move(replicas_[i].endpoint), unused);
  }
  RetireLocked(nullptr, unused);
  replicas_ = std::move(next);
}

void ReplicaSet::SetHealthy(size_t index, bool healthy) {
  absl::MutexLock lock(&mu_);
  if (index >= replicas_.size()) return;
  Replica& replica = replicas_[index];
  if (replica.healthy && !healthy) {
    ++replica.ejections;
    replica.endpoint->metrics.ejections.Increment();
  }
  replica.healthy = healthy;
}

void ReplicaSet::SetRoundRobin(bool round_robin) {
  absl::MutexLock lock(&mu_);
  round_robin_ = round_robin;
}

bool ReplicaSet::round_robin() const {
  absl::MutexLock lock(&mu_);
  return round_robin_;
}

size_t ReplicaSet::size() const {
  absl::MutexLock lock(&mu_);
  return replicas_.size();
}

std::vector<ReplicaStats> ReplicaSet::Stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<ReplicaStats> stats;
  for (const Replica& r : replicas_) {
    stats.push_back({r.endpoint->address.ToString(), r.outstanding, r.healthy, r.requests,
                     r.failures, r.ejections});
  }
  return stats;
}

size_t ReplicaSet::retired_size() const {
  absl::MutexLock lock(&mu_);
  return retired_.size();
}

int ReplicaSet::LeftInFlight(const Address& address) const {
  absl::MutexLock lock(&mu_);
  long calls = 0;
  for (const std::shared_ptr<Endpoint>& endpoint : retired_) {
    // Not the references: a client's idle Call stream to the replica holds one too.
    if (endpoint->address == address) calls += endpoint->leased.load(std::memory_order_relaxed);
  }
  return static_cast<int>(calls);
}

std::string ReplicaSet::Describe() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> addresses;
  for (const Replica& r : replicas_) addresses.push_back(r.endpoint->address.ToString());
  return absl::StrJoin(addresses, ", ");
}

bool ReplicaSet::Probe(const Endpoint& endpoint) const {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.probe_timeout));
  grpc::Slice empty;  // HealthCheckRequest{service: ""} encodes to no bytes
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  absl::Mutex done_mu;
  bool done = false;
  grpc::Status status;
  endpoint.stub->UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                           &response, [&](grpc::Status s) {
                             absl::MutexLock lock(&done_mu);
                             status = std::move(s);
                             done = true;
                           });
  absl::MutexLock lock(&done_mu);
  done_mu.Await(absl::Condition(&done));
  return status.ok() && IsServing(response);
}

void ReplicaSet::ProbeLoop() {
  pthread_setname_np(pthread_self(), "health-probe");
  while (true) {
    std::vector<std::pair<size_t, std::shared_ptr<Endpoint>>> targets;
    std::optional<std::vector<Address>> sources;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.probe_interval);
      if (stopping_) return;
      if (dynamic_) sources = sources_;
    }
    // dns:/// addresses are looked up again every round: replicas come and go.
    if (sources.has_value()) Apply(Expand(*sources));
    std::vector<std::shared_ptr<Endpoint>> unused;  // destroyed after the lock is released
    {
      absl::MutexLock lock(&mu_);
      RetireLocked(nullptr, unused);  // those whose last calls ended since
      for (size_t i = 0; i < replicas_.size(); ++i) targets.emplace_back(i, replicas_[i].endpoint);
    }
    for (auto& [index, endpoint] : targets) {
      bool serving = Probe(*endpoint);
      absl::MutexLock lock(&mu_);
      if (index >= replicas_.size() || replicas_[index].endpoint != endpoint) continue;
      Replica& replica = replicas_[index];
      if (serving && !replica.healthy) {
        SHOAL_LOG_INFO("%s: re-admitted %s", options_.name, endpoint->address.ToString());
      } else if (!serving && replica.healthy) {
        ++replica.ejections;
        replica.endpoint->metrics.ejections.Increment();
        SHOAL_LOG_WARNING("%s: ejected %s (health check failed)", options_.name,
                          endpoint->address.ToString());
      }
      replica.healthy = serving;
    }
  }
}

}  // namespace shoal::routing
