// LocalDeployment: replica argv/env, GPU round robin, supervision callbacks into the router.
#include "src/orchestrator/local_deployment.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/json_util.h"
#include "src/common/atomic_file.h"
#include "src/common/exit_codes.h"
#include "src/common/log.h"
#include "src/orchestrator/capacity.h"
#include "src/orchestrator/free_port.h"
#include "src/orchestrator/router_builder.h"
#include "src/routing/address.h"
#include "src/rpc/auth.h"
#include "src/rpc/membership_client.h"

namespace shoal::orchestrator {
namespace {

// A free port (PickFreePort) that none of `picked` (the Deployment's Raft ports so far) is:
// two random picks can return the same port, and a group whose members share an address cannot
// bootstrap ("duplicate address in configuration").
StatusOr<int> PickRaftPort(const std::string& host, const std::vector<std::vector<int>>& picked) {
  constexpr int kPicks = 16;
  for (int pick = 0; pick < kPicks; ++pick) {
    SHOAL_ASSIGN_OR_RETURN(int port, PickFreePort(host));
    const bool taken = std::any_of(picked.begin(), picked.end(), [port](const auto& shard) {
      return std::find(shard.begin(), shard.end(), port) != shard.end();
    });
    if (!taken) return port;
  }
  return absl::ResourceExhaustedError(absl::StrCat("no free port on ", host, " that the Raft ",
                                                   "members do not use already in ", kPicks,
                                                   " picks"));
}

// A replica this Deployment started: TLS when internal_tls is on.
routing::Address LocalReplica(const config::DeploymentSpec& spec, const std::string& host, int port,
                              std::string name) {
  return routing::Address{.host = host,
                          .port = port,
                          .tls = spec.internal_tls.enabled(),
                          .name = std::move(name),
                          .batch_streams = true};
}

// How the orchestrator calls its replicas (membership changes).
rpc::ChannelSecurity ReplicaSecurity(const config::DeploymentSpec& spec) {
  return rpc::ChannelSecurity{.tls = spec.internal_tls.enabled(),
                              .files = spec.internal_tls,
                              .auth_token = spec.auth_token};
}

}  // namespace

std::string FindShoalBinary() {
  if (const char* bin = std::getenv("SHOAL_BIN"); bin != nullptr && *bin != '\0') return bin;
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    if (self.filename() == "shoal") return self.string();
    std::filesystem::path sibling = self.parent_path() / "shoal";
    if (std::filesystem::exists(sibling)) return sibling.string();
  }
  return "shoal";
}

std::string ReplicaName(const std::string& deployment, int shards, int shard, int replica) {
  if (shards > 1) return absl::StrCat(deployment, "/shard-", shard, "/rep-", replica);
  return absl::StrCat(deployment, "/rep-", replica);
}

Status CheckDeploymentCanStart(const config::DeploymentSpec& spec, int max_replicas) {
  SHOAL_RETURN_IF_ERROR(config::ValidateDeploymentSpec(spec));
  SHOAL_RETURN_IF_ERROR(
      CheckCanStart({&spec}, max_replicas, absl::StrCat("Deployment '", spec.name, "'")));
  if (spec.stateful && spec.replicas < 3) {
    // Allowed, as in Jina: one replica is a single-member log (durable, not redundant); with
    // two, the majority is both, so losing either stops writes.
    SHOAL_LOG_WARNING(
        "Deployment '%s': stateful with %d replica(s) tolerates no replica failure; Raft needs "
        "3 replicas to survive one (2f+1 survive f)",
        spec.name, spec.replicas);
  }
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<LocalDeployment>> LocalDeployment::Start(
    const config::DeploymentSpec& spec, const Options& options) {
  SHOAL_RETURN_IF_ERROR(CheckDeploymentCanStart(spec, options.max_replicas));
  std::unique_ptr<LocalDeployment> deployment(new LocalDeployment());
  deployment->spec_ = spec;
  deployment->replica_host_ = options.replica_host;
  deployment->max_replicas_ = options.max_replicas;
  deployment->replica_port_ = options.replica_port;
  SHOAL_ASSIGN_OR_RETURN(deployment->metrics_, StartDeploymentMetrics(spec, options.metrics_host));
  std::vector<std::vector<routing::Address>> replicas;
  if (spec.external) {
    SHOAL_ASSIGN_OR_RETURN(replicas, ExternalReplicas(spec));
  } else if (spec.inprocess) {
    LocalDeployment* self = deployment.get();
    SHOAL_ASSIGN_OR_RETURN(
        deployment->inprocess_,
        StartInProcessReplicas(spec, options.replica_host, [self, &spec](int s, int r) {
          return spec.workspace.empty() ? std::string() : self->ReplicaWorkspace(spec, s, r);
        }));
    replicas = deployment->inprocess_->addresses();
  } else {
    SHOAL_ASSIGN_OR_RETURN(replicas, deployment->StartLocalReplicas(options));
  }
  SHOAL_ASSIGN_OR_RETURN(deployment->router_, BuildRouter(spec, replicas));
  deployment->live_router_.store(deployment->router_.get());
  if (deployment->supervisor_ != nullptr) deployment->CatchUpRouter();
  deployment->StartAutoscaler();
  return deployment;
}

Status LocalDeployment::NoReplicaProcesses() const {
  if (inprocess_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("Deployment '", spec_.name,
                     "' runs its replicas inside this process (inprocess: true): restart it "
                     "to change them"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("Deployment '", spec_.name, "' is external: its replicas run elsewhere"));
}

void LocalDeployment::StartAutoscaler() {
  absl::MutexLock lock(&autoscaler_mu_);
  if (!spec_.autoscaling || supervisor_ == nullptr || stopped_ || autoscaler_ != nullptr) return;
  routing::DeploymentRouter* router = router_.get();
  Autoscaler::Target target{
      .deployment = spec_.name,
      .ongoing_per_shard =
          [router] {
            std::vector<int> ongoing;
            for (size_t s = 0; s < router->num_shards(); ++s) {
              int sum = 0;
              for (const routing::ReplicaStats& r : router->shard(s).Stats()) sum += r.outstanding;
              ongoing.push_back(sum);
            }
            return ongoing;
          },
      .replicas = [router] { return static_cast<int>(router->shard(0).size()); },
      .scale = [this](int replicas) { return Scale(replicas); },
  };
  autoscaler_ = std::make_unique<Autoscaler>(*spec_.autoscaling, std::move(target));
}

StatusOr<std::vector<std::vector<routing::Address>>> LocalDeployment::StartLocalReplicas(
    const Options& options) {
  // Raft ports picked here may, rarely, be taken before a replica binds them: try again.
  Status started = StartReplicas(options);
  for (int retry = 0; retry < 3 && !started.ok() && raft_ports_picked_ &&
                      started.message().find("address already in use") != absl::string_view::npos;
       ++retry) {
    SHOAL_LOG_WARNING("Deployment '%s': a Raft port was taken; starting again", spec_.name);
    ForgetRaftState();
    started = StartReplicas(options);
  }
  SHOAL_RETURN_IF_ERROR(started);
  std::vector<std::vector<routing::Address>> addresses(spec_.shards);
  absl::MutexLock lock(&members_mu_);
  for (int s = 0; s < spec_.shards; ++s) {
    for (size_t index : members_[s]) {
      int port = supervisor_->port(index);
      addresses[s].push_back(LocalReplica(
          spec_, options.replica_host, port,
          ReplicaName(spec_.name, spec_.shards, s, static_cast<int>(addresses[s].size()))));
    }
  }
  return addresses;
}

void LocalDeployment::ForgetRaftState() {
  // The members that did start recorded the old addresses: their logs start over too.
  std::error_code ignored;
  std::filesystem::remove(std::filesystem::path(spec_.workspace) / spec_.name / "raft-ports",
                          ignored);
  for (int s = 0; s < spec_.shards; ++s) {
    for (int r = 0; r < spec_.replicas; ++r) {
      std::filesystem::remove_all(std::filesystem::path(ReplicaWorkspace(spec_, s, r)) / "raft",
                                  ignored);
    }
  }
  std::filesystem::remove(std::filesystem::path(spec_.workspace) / spec_.name / "raft-generations",
                          ignored);
  generations_.clear();
}

void LocalDeployment::CatchUpRouter() {
  // A replica that restarted on another port while the router was being built reported it
  // to nobody: give the router the ports as they are now.
  absl::MutexLock lock(&members_mu_);
  for (size_t s = 0; s < members_.size(); ++s) {
    SyncRouterLocked(s);
    for (size_t r = 0; r < members_[s].size(); ++r) {
      if (!supervisor_->Damaged(members_[s][r]).ok()) router_->shard(s).SetHealthy(r, false);
    }
  }
}

StatusOr<std::vector<std::vector<int>>> LocalDeployment::RaftPorts(const std::string& host) {
  raft_ports_picked_ = false;
  if (!spec_.peer_ports.empty()) return spec_.peer_ports;
  // Picked ports are recorded in the workspace: the Raft log names its members by address, so
  // a restart with the same workspace must use the same ones.
  std::filesystem::path file = std::filesystem::path(spec_.workspace) / spec_.name / "raft-ports";
  std::vector<std::vector<int>> ports;
  if (std::ifstream in(file); in) {
    std::string line;
    while (std::getline(in, line)) {
      ports.emplace_back();
      for (absl::string_view port : absl::StrSplit(line, ',', absl::SkipEmpty())) {
        int value = 0;
        if (!absl::SimpleAtoi(port, &value) || value <= 0 || value > 65535) {
          return absl::InvalidArgumentError(absl::StrCat(
              file.string(), ": '", port, "' is not a port; remove the file to pick new ones"));
        }
        ports.back().push_back(value);
      }
    }
    bool fits = ports.size() == static_cast<size_t>(spec_.shards);
    for (const std::vector<int>& shard : ports) {
      fits = fits && shard.size() >= static_cast<size_t>(spec_.replicas);
    }
    if (fits) {
      SHOAL_LOG_INFO("Deployment '%s': Raft ports from %s", spec_.name, file.string());
      SHOAL_ASSIGN_OR_RETURN(generations_, ReadRaftGenerations());
      return ports;
    }
    SHOAL_LOG_WARNING("Deployment '%s': %s does not fit %d shard(s) x %d replicas; new ports",
                      spec_.name, file.string(), spec_.shards, spec_.replicas);
    ports.clear();
  }
  for (int s = 0; s < spec_.shards; ++s) {
    ports.emplace_back();
    for (int r = 0; r < spec_.replicas; ++r) {
      SHOAL_ASSIGN_OR_RETURN(int port, PickRaftPort(host, ports));
      ports.back().push_back(port);
    }
  }
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  // New ports: the members start over as their first generation.
  std::filesystem::remove(file.parent_path() / "raft-generations", error);
  generations_.clear();
  SHOAL_RETURN_IF_ERROR(RecordRaftPorts(ports));
  raft_ports_picked_ = true;
  return ports;
}

Status LocalDeployment::StartReplicas(const Options& options) {
  SHOAL_ASSIGN_OR_RETURN(ReplicaBuild build, BuildFor(spec_));
  devices_ = std::move(build.devices);
  uses_with_json_ = std::move(build.uses_with_json);
  binary_ = options.shoal_binary.empty() ? FindShoalBinary() : options.shoal_binary;
  if (spec_.stateful && !google::protobuf::util::MessageToJsonString(spec_.raft_configuration,
                                                                     &raft_configuration_json_)
                             .ok()) {
    return absl::InvalidArgumentError(absl::StrCat(WhereWritten(spec_, "raft_configuration"),
                                                   "raft_configuration is not JSON-able"));
  }
  raft_ports_.clear();
  if (spec_.stateful) {
    SHOAL_ASSIGN_OR_RETURN(raft_ports_, RaftPorts(options.replica_host));
  }
  std::vector<ReplicaProcessSpec> replicas;
  {
    absl::MutexLock lock(&members_mu_);
    members_.assign(spec_.shards, {});
    for (int s = 0; s < spec_.shards; ++s) {
      for (int r = 0; r < spec_.replicas; ++r) {
        members_[s].push_back(replicas.size());
        replicas.push_back(ReplicaSpec(s, r, spec_.replicas, /*join=*/{}));
      }
    }
  }
  Supervisor::Options supervisor_options;
  supervisor_options.ready_timeout = spec_.timeout_ready_ms < 0
                                         ? absl::InfiniteDuration()
                                         : absl::Milliseconds(spec_.timeout_ready_ms);
  Supervisor::Callbacks callbacks{
      .on_ready = [this](size_t index, int port) { OnReady(index, port); },
      .on_exit = [this](size_t index, int) { OnExit(index); },
  };
  // A replica whose Raft state is damaged is left stopped; the others serve while they hold a
  // quorum of each group.
  if (spec_.stateful) supervisor_options.damaged_exit_code = kExitDamagedState;
  supervisor_ =
      std::make_unique<Supervisor>(std::move(replicas), supervisor_options, std::move(callbacks));
  Status started = supervisor_->Start();
  if (started.ok()) {
    started = CheckDamaged();
  } else if (spec_.stateful) {
    // Replicas left stopped for damaged state explain why the others could not start.
    std::string reports;
    absl::MutexLock lock(&members_mu_);
    for (const std::vector<size_t>& shard : members_) {
      for (size_t index : shard) {
        Status status = supervisor_->Damaged(index);
        if (!status.ok()) absl::StrAppend(&reports, "\n", status.message());
      }
    }
    if (!reports.empty()) {
      started = Status(started.code(), absl::StrCat(started.message(), "\nAlso:", reports));
    }
  }
  if (!started.ok()) {
    supervisor_->Stop();
    return absl::Status(started.code(), absl::StrCat("starting Deployment '", spec_.name,
                                                     "': ", started.message()));
  }
  return absl::OkStatus();
}

Status LocalDeployment::CheckDamaged() {
  absl::MutexLock lock(&members_mu_);
  for (size_t s = 0; s < members_.size(); ++s) {
    std::vector<std::string> damaged;
    for (size_t r = 0; r < members_[s].size(); ++r) {
      Status status = supervisor_->Damaged(members_[s][r]);
      if (status.ok()) continue;
      const std::string name =
          ReplicaName(spec_.name, spec_.shards, static_cast<int>(s), static_cast<int>(r));
      damaged.push_back(absl::StrCat(
          status.message(), "\nTo recover '", name,
          "': stop the Deployment, run `shoal raft reset-state --workspace ",
          ReplicaWorkspace(spec_, static_cast<int>(s), static_cast<int>(r)),
          "` (it moves the damaged state aside, deleting nothing) and start the Deployment "
          "again: the replica takes the group's state from the others"));
    }
    if (damaged.empty()) continue;
    const size_t members = members_[s].size();
    const size_t serving = members - damaged.size();
    if (serving < members / 2 + 1) {
      return absl::DataLossError(absl::StrCat("only ", serving, " of ", members,
                                              " replicas of a Raft group can start, fewer than "
                                              "a quorum: ",
                                              absl::StrJoin(damaged, "\n")));
    }
    for (const std::string& report : damaged) {
      SHOAL_LOG_ERROR("Deployment '%s' serves with %d of %d replicas: %s", spec_.name,
                      static_cast<int>(serving), static_cast<int>(members), report);
    }
  }
  return absl::OkStatus();
}

std::string LocalDeployment::RaftAddress(int shard, int replica) const {
  return absl::StrCat(replica_host_, ":", raft_ports_[shard][replica]);
}

std::optional<std::pair<size_t, size_t>> LocalDeployment::SlotOfLocked(size_t index) const {
  for (size_t s = 0; s < members_.size(); ++s) {
    auto it = std::find(members_[s].begin(), members_[s].end(), index);
    if (it != members_[s].end()) return std::make_pair(s, size_t(it - members_[s].begin()));
  }
  return std::nullopt;
}

void LocalDeployment::OnReady(size_t index, int port) {
  routing::DeploymentRouter* router = live_router_.load();
  if (router == nullptr) return;  // the first start; the router is built with these ports
  // Held while the router changes, so that a replica replaced meanwhile (Update(), Scale())
  // cannot put its address back in its successor's place.
  absl::MutexLock lock(&members_mu_);
  std::optional<std::pair<size_t, size_t>> slot = SlotOfLocked(index);
  if (!slot.has_value()) return;  // being added: Scale() or Update() gives it to the router
  const auto [shard, replica] = *slot;
  routing::Address address = LocalReplica(
      StartedFromLocked(index), replica_host_, port,
      ReplicaName(spec_.name, spec_.shards, static_cast<int>(shard), static_cast<int>(replica)));
  routing::ReplicaSet& set = router->shard(shard);
  std::vector<routing::ReplicaStats> stats = set.Stats();
  if (replica < stats.size() && stats[replica].address != address.ToString()) {
    set.SetAddress(replica, address);
  }
  set.SetHealthy(replica, true);
}

void LocalDeployment::OnExit(size_t index) {
  routing::DeploymentRouter* router = live_router_.load();
  if (router == nullptr) return;
  absl::MutexLock lock(&members_mu_);  // as in OnReady
  std::optional<std::pair<size_t, size_t>> slot = SlotOfLocked(index);
  if (!slot.has_value()) return;
  router->shard(slot->first).SetHealthy(slot->second, false);
}

routing::Address LocalDeployment::MemberAddressLocked(size_t index, size_t shard,
                                                      size_t position) const {
  return LocalReplica(
      StartedFromLocked(index), replica_host_, supervisor_->port(index),
      ReplicaName(spec_.name, spec_.shards, static_cast<int>(shard), static_cast<int>(position)));
}

void LocalDeployment::SyncRouterLocked(size_t shard, absl::Duration connect_wait) {
  std::vector<routing::Address> addresses;
  for (size_t index : members_[shard]) {
    addresses.push_back(MemberAddressLocked(index, shard, addresses.size()));
  }
  router_->shard(shard).SetAddresses(addresses, connect_wait);
}

Status LocalDeployment::Scale(int replicas) {
  absl::MutexLock scale_lock(&scale_mu_);
  return ScaleLocked(replicas);
}

Status LocalDeployment::ScaleLocked(int replicas) {
  if (replicas < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Deployment '", spec_.name, "': replicas must be at least 1, got ", replicas));
  }
  if (supervisor_ == nullptr) return NoReplicaProcesses();
  const int current = spec_.replicas;
  if (replicas == current) return absl::OkStatus();
  if (replicas > current) {
    config::DeploymentSpec scaled = spec_;
    scaled.replicas = replicas;
    SHOAL_RETURN_IF_ERROR(config::CheckReplicaLimit(scaled, max_replicas_));
    const uint64_t more = uint64_t(replicas - current) * uint64_t(spec_.shards);
    RaiseOpenFileLimit(more * kFdsPerReplica);
    SHOAL_RETURN_IF_ERROR(CheckMachineCapacity(
        more, absl::StrCat("scaling Deployment '", spec_.name, "' to ", replicas, " replicas"),
        ReadMachineLimits()));
  }
  const absl::Duration timeout =
      spec_.timeout_ready_ms < 0 ? absl::Hours(1) : absl::Milliseconds(spec_.timeout_ready_ms);
  if (spec_.stateful && replicas < 3) {
    SHOAL_LOG_WARNING("Deployment '%s': stateful with %d replica(s) tolerates no replica failure",
                      spec_.name, replicas);
  }
  for (int s = 0; s < spec_.shards; ++s) {
    if (replicas > current) {
      SHOAL_RETURN_IF_ERROR(Grow(s, current, replicas, timeout));
    } else {
      SHOAL_RETURN_IF_ERROR(Shrink(s, current, replicas, timeout));
    }
  }
  {
    absl::MutexLock lock(&members_mu_);
    spec_.replicas = replicas;
  }
  SHOAL_LOG_INFO("Deployment '%s': scaled from %d to %d replica(s) per shard", spec_.name, current,
                 replicas);
  return absl::OkStatus();
}

Status LocalDeployment::Grow(int shard, int from, int to, absl::Duration timeout) {
  for (int r = from; r < to; ++r) {
    std::vector<std::string> join;
    if (spec_.stateful) {
      while (static_cast<int>(raft_ports_[shard].size()) <= r) {
        SHOAL_ASSIGN_OR_RETURN(int port, PickRaftPort(replica_host_, raft_ports_));
        raft_ports_[shard].push_back(port);
      }
      SHOAL_RETURN_IF_ERROR(RecordRaftPorts(raft_ports_));
      // A member that was removed earlier starts over, as its first generation.
      if (static_cast<size_t>(shard) < generations_.size() &&
          static_cast<size_t>(r) < generations_[shard].size()) {
        generations_[shard][r] = 0;
        SHOAL_RETURN_IF_ERROR(RecordRaftGenerations());
      }
      std::error_code ignored;
      std::filesystem::remove_all(std::filesystem::path(ReplicaWorkspace(spec_, shard, r)) / "raft",
                                  ignored);
      join = ReplicaAddresses()[shard];
    }
    StatusOr<size_t> added = supervisor_->Add(ReplicaSpec(shard, r, to, join));
    if (!added.ok()) {
      return absl::Status(added.status().code(), absl::StrCat("scaling Deployment '", spec_.name,
                                                              "': ", added.status().message()));
    }
    absl::MutexLock lock(&members_mu_);
    members_[shard].push_back(*added);
    SyncRouterLocked(shard, kConnectWait);  // it is ready: it takes calls once connected
  }
  return absl::OkStatus();
}

Status LocalDeployment::Shrink(int shard, int from, int to, absl::Duration timeout) {
  for (int r = from - 1; r >= to; --r) {
    if (spec_.stateful) {
      // Out of the Raft group first, so that the majority is counted without it.
      // Scaling down is the operator's decision: forced, even below a quorum of the current
      // configuration (down to one replica), which `shoal raft remove` refuses without --force.
      Status removed = rpc::RemoveServerVia(ReplicaAddresses()[shard], RaftId(shard, r), timeout,
                                            ReplicaSecurity(spec_), /*force=*/true);
      if (!removed.ok()) {
        return absl::Status(removed.code(), absl::StrCat("scaling Deployment '", spec_.name,
                                                         "': ", removed.message()));
      }
    }
    size_t index = 0;
    routing::Address address;
    {
      absl::MutexLock lock(&members_mu_);
      index = members_[shard].back();
      address = MemberAddressLocked(index, shard, members_[shard].size() - 1);
      members_[shard].pop_back();
      SyncRouterLocked(shard);
    }
    // Out of the router: the calls it was sent finish before it stops.
    AwaitDrained(shard, address);
    supervisor_->Remove(index);
  }
  return absl::OkStatus();
}

Status LocalDeployment::RecordRaftPorts(const std::vector<std::vector<int>>& ports) const {
  if (!spec_.peer_ports.empty()) return absl::OkStatus();
  std::filesystem::path file = std::filesystem::path(spec_.workspace) / spec_.name / "raft-ports";
  std::string text;
  for (const std::vector<int>& shard : ports) {
    absl::StrAppend(&text, absl::StrJoin(shard, ","), "\n");
  }
  return WriteFileAtomically(file, text);
}

std::vector<std::vector<std::string>> LocalDeployment::ReplicaAddresses() const {
  std::vector<std::vector<std::string>> out;
  for (size_t s = 0; s < router_->num_shards(); ++s) {
    out.emplace_back();
    for (const routing::ReplicaStats& r : router_->shard(s).Stats()) {
      std::string address = r.address;
      size_t scheme = address.find("://");
      out.back().push_back(scheme == std::string::npos ? address : address.substr(scheme + 3));
    }
  }
  return out;
}

int LocalDeployment::ReplicaPid(int shard, int replica) const {
  if (supervisor_ == nullptr) return -1;
  size_t index = 0;
  {
    absl::MutexLock lock(&members_mu_);
    if (shard < 0 || shard >= static_cast<int>(members_.size()) || replica < 0 ||
        replica >= static_cast<int>(members_[shard].size())) {
      return -1;
    }
    index = members_[shard][replica];
  }
  return supervisor_->pid(index);
}

void LocalDeployment::Stop() {
  // No scaling starts once stopping; one under way ends when the supervisor stops.
  std::unique_ptr<Autoscaler> autoscaler;
  {
    absl::MutexLock lock(&autoscaler_mu_);
    stopped_ = true;
    autoscaler = std::move(autoscaler_);
  }
  if (autoscaler != nullptr) autoscaler->RequestStop();
  if (supervisor_ != nullptr) supervisor_->Stop();
  if (inprocess_ != nullptr) inprocess_->Stop(absl::Seconds(5));
  if (autoscaler != nullptr) autoscaler->Join();
}

LocalDeployment::~LocalDeployment() { Stop(); }

}  // namespace shoal::orchestrator
