// Rolling updates of a running LocalDeployment (docs/deployments.md, "Updates"): every replica
// is replaced by one started from the new spec, one at a time, and put back from the old spec
// when a new one fails to become ready.
//
// Threads: spec_ is read by the supervisor's callbacks (OnReady) and SyncRouterLocked under
// members_mu_, and by Scale()/Update() under scale_mu_; it is replaced here holding both. Each
// replica's router address is made from the spec it was started from (started_from_), so that
// old and new replicas side by side are each reached as they serve.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/common/log.h"
#include "src/metrics/metrics.h"
#include "src/orchestrator/capacity.h"
#include "src/orchestrator/free_port.h"
#include "src/orchestrator/local_deployment.h"
#include "src/orchestrator/raft_cleanup.h"
#include "src/rpc/membership_client.h"

namespace shoal::orchestrator {
namespace {

// How long a replica taken out of the router may take to finish its calls: the supervisor's
// stop timeout (SIGTERM then lets the replica drain what is left, up to the same bound).
absl::Duration DrainTimeout() { return Supervisor::Options().stop_timeout; }

// How the orchestrator calls its replicas (membership changes).
rpc::ChannelSecurity ReplicaSecurity(const config::DeploymentSpec& spec) {
  return rpc::ChannelSecurity{.tls = spec.internal_tls.enabled(),
                              .files = spec.internal_tls,
                              .auth_token = spec.auth_token};
}

std::string Position(const config::DeploymentSpec& spec, int shard, int r) {
  return spec.shards > 1 ? absl::StrCat("shard-", shard, "/rep-", r) : absl::StrCat("rep-", r);
}

}  // namespace

const config::DeploymentSpec& LocalDeployment::StartedFromLocked(size_t index) const {
  if (index < started_from_.size() && started_from_[index] != nullptr) {
    return *started_from_[index];
  }
  return spec_;
}

void LocalDeployment::AwaitDrained(size_t shard, const routing::Address& address) const {
  const routing::ReplicaSet& set = router_->shard(shard);
  const absl::Time deadline = absl::Now() + DrainTimeout();
  while (set.LeftInFlight(address) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void LocalDeployment::TakeOverLocked(int shard, int r, size_t added,
                                     const std::shared_ptr<const config::DeploymentSpec>& spec) {
  size_t old = 0;
  routing::Address old_address;
  {
    absl::MutexLock lock(&members_mu_);
    old = members_[shard][r];
    old_address = MemberAddressLocked(old, shard, r);
    if (started_from_.size() <= added) started_from_.resize(added + 1);
    started_from_[added] = spec;
    // In one step: the new replica takes the old one's place (and name) in the router; the old
    // one leaves it, and the calls it has in flight finish.
    members_[shard][r] = added;
    SyncRouterLocked(shard, kConnectWait);  // it is ready: it takes calls once connected
  }
  AwaitDrained(shard, old_address);
  supervisor_->Remove(old);
}

Status LocalDeployment::SwapInLocked(int shard, int r,
                                     const std::shared_ptr<const config::DeploymentSpec>& spec,
                                     ReplicaProcessSpec process) {
  StatusOr<size_t> added = supervisor_->Add(std::move(process));
  if (!added.ok()) return added.status();
  TakeOverLocked(shard, r, *added, spec);
  return absl::OkStatus();
}

Status LocalDeployment::ReplaceReplicaLocked(
    int shard, int r, const std::shared_ptr<const config::DeploymentSpec>& spec,
    const ReplicaBuild& build) {
  if (spec->stateful) return ReplaceVoterLocked(shard, r, spec, build);
  ReplicaProcessSpec process = ReplicaSpec(*spec, build, shard, r, spec->replicas, /*join=*/{});
  if (shard == 0 && r == 0 && replica_port_ > 0) {
    // A pinned port (a Flow Executor's `port`) is the old replica's until it stops: a new
    // replica on a port of its choosing stands in meanwhile, then one on the pinned port
    // replaces it.
    ReplicaProcessSpec stand_in = process;
    auto port = std::find(stand_in.argv.begin(), stand_in.argv.end(), "--port");
    if (port != stand_in.argv.end() && port + 1 != stand_in.argv.end()) *(port + 1) = "{port}";
    SHOAL_RETURN_IF_ERROR(SwapInLocked(shard, r, spec, std::move(stand_in)));
  }
  return SwapInLocked(shard, r, spec, std::move(process));
}

void LocalDeployment::SetRaftMember(int shard, int r, int generation, int port) {
  if (generations_.size() <= static_cast<size_t>(shard)) generations_.resize(shard + 1);
  if (generations_[shard].size() <= static_cast<size_t>(r)) generations_[shard].resize(r + 1, 0);
  generations_[shard][r] = generation;
  raft_ports_[shard][r] = port;
}

Status LocalDeployment::ReplaceVoterLocked(
    int shard, int r, const std::shared_ptr<const config::DeploymentSpec>& spec,
    const ReplicaBuild& build) {
  const absl::Duration timeout =
      spec->timeout_ready_ms < 0 ? absl::Hours(1) : absl::Milliseconds(spec->timeout_ready_ms);
  // Forgetting a member that may never have joined: quick when it did not.
  const absl::Duration cleanup = std::min(timeout, absl::Seconds(10));
  const rpc::ChannelSecurity security = ReplicaSecurity(*spec);
  // Cleaning up a member that failed to start may take until then.
  const absl::Time deadline = absl::Now() + std::max(timeout, cleanup);
  const std::string old_id = RaftId(shard, r);
  const std::string old_raft_dir = ReplicaWorkspace(spec_, shard, r) + "/raft";
  const int old_port = raft_ports_[shard][r];
  const int old_generation = Generation(shard, r);
  SHOAL_ASSIGN_OR_RETURN(int port, PickFreePort(replica_host_));
  // The new member: a Raft ID, port and workspace of its own, next to the old one's.
  SetRaftMember(shard, r, old_generation + 1, port);
  const std::string new_id = RaftId(shard, r);
  auto restore = [&] { SetRaftMember(shard, r, old_generation, old_port); };
  const std::vector<std::string> members = ReplicaAddresses()[shard];
  // Who is asked to change the group: the running members, and the new one once it runs (an old
  // leader hands its leadership over before it leaves, and the new member may take it).
  std::vector<std::string> asked = members;
  // The new member may have joined as a voter before it failed: take it out again.
  auto forget_new = [&](const Status& step) {
    Status forgotten = RemoveRaftMemberWithRetries(
        [&](absl::Duration each) { return rpc::RemoveServerVia(asked, new_id, each, security); },
        new_id, asked, cleanup, deadline,
        // Stopping: every member goes, one try as before.
        step.code() == absl::StatusCode::kCancelled ? 1 : 4);
    if (forgotten.ok()) return step;
    return absl::Status(step.code(), absl::StrCat(step.message(), "; and ", forgotten.message()));
  };
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::path(ReplicaWorkspace(*spec, shard, r)) / "raft",
                              ignored);
  // It joins through the running members as a voter, and is ready once caught up.
  StatusOr<size_t> added =
      supervisor_->Add(ReplicaSpec(*spec, build, shard, r, spec->replicas, members));
  if (!added.ok()) {
    Status failed = forget_new(added.status());
    restore();
    return failed;
  }
  asked.push_back(
      routing::Address{.host = replica_host_, .port = supervisor_->port(*added)}.target());
  // The old member leaves the group while the new one counts: never below a quorum (not forced).
  Status left = rpc::RemoveServerVia(asked, old_id, timeout, security, /*force=*/false);
  if (!left.ok()) {
    Status failed =
        forget_new(absl::Status(left.code(), absl::StrCat("taking Raft member '", old_id,
                                                          "' out of its group: ", left.message())));
    supervisor_->Remove(*added);
    restore();
    return failed;
  }
  TakeOverLocked(shard, r, *added, spec);
  // The next start must find the new member: recorded (each file replaced whole) before the old
  // member's state goes, so a crash or a full disk in between leaves nothing naming a member the
  // group has removed with its state gone.
  Status recorded = RecordRaftPorts(raft_ports_);
  if (recorded.ok()) recorded = RecordRaftGenerations();
  if (!recorded.ok()) {
    SHOAL_LOG_ERROR(
        "Deployment '%s': Raft member '%s' replaced '%s' but recording it failed: %s; the old "
        "member's state stays in %s",
        spec_.name, new_id, old_id, recorded.message(), old_raft_dir);
    return absl::Status(recorded.code(),
                        absl::StrCat("recording Raft member '", new_id, "' (which replaced '",
                                     old_id, "'): ", recorded.message()));
  }
  // Its state lives on in the group; the next start uses the new member's.
  std::filesystem::remove_all(old_raft_dir, ignored);
  return absl::OkStatus();
}

Status LocalDeployment::RollBackLocked(const std::vector<std::pair<int, int>>& replaced) {
  auto old = std::make_shared<const config::DeploymentSpec>(spec_);
  const ReplicaBuild build{uses_with_json_, devices_};
  std::vector<std::string> errors;
  for (auto it = replaced.rbegin(); it != replaced.rend(); ++it) {
    Status back = ReplaceReplicaLocked(it->first, it->second, old, build);
    if (back.ok()) {
      SHOAL_LOG_WARNING("Deployment '%s': rolling back: %s is the old version again", spec_.name,
                        Position(spec_, it->first, it->second));
    } else {
      errors.push_back(std::string(back.message()));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("putting back the old version failed too: ", absl::StrJoin(errors, "; ")));
}

Status LocalDeployment::AbandonRolloutLocked(const Status& step, int shard, int r,
                                             std::vector<std::pair<int, int>> replaced,
                                             const config::DeploymentSpec* target) {
  const std::string why =
      absl::StrCat("replacing replica '", ReplicaName(spec_.name, spec_.shards, shard, r),
                   "' failed: ", step.message());
  SHOAL_LOG_WARNING(
      "Deployment '%s': rolling update stopped, %s; rolling back %d replaced "
      "replica(s)",
      spec_.name, why, static_cast<int>(replaced.size()));
  {
    // A pinned-port replica may have failed after its stand-in (of the new version) took over.
    absl::MutexLock lock(&members_mu_);
    if (&StartedFromLocked(members_[shard][r]) == target) replaced.emplace_back(shard, r);
  }
  Status back = RollBackLocked(replaced);
  if (!back.ok()) {
    metrics::DeploymentRollouts(spec_.name, "failed").Increment();
    SHOAL_LOG_ERROR("Deployment '%s': rolling update failed and %s", spec_.name, back.message());
    return absl::Status(step.code(), absl::StrCat("rolling update of Deployment '", spec_.name,
                                                  "' failed: ", why, "\nand ", back.message()));
  }
  metrics::DeploymentRollouts(spec_.name, "rolled_back").Increment();
  SHOAL_LOG_WARNING(
      "Deployment '%s': rolling update rolled back; every replica runs the old "
      "version",
      spec_.name);
  return absl::Status(step.code(), absl::StrCat("rolling update of Deployment '", spec_.name,
                                                "' rolled back: ", why));
}

Status LocalDeployment::CheckCanRollLocked(const config::DeploymentSpec& target) {
  if (target.stateful && (!spec_.peer_ports.empty() || replica_port_ > 0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Deployment '", target.name,
        "': a rolling update of a stateful Deployment needs new Raft and gRPC ports for the new "
        "members; not with fixed ports (peer_ports, or a Flow Executor's port)"));
  }
  SHOAL_RETURN_IF_ERROR(config::ValidateDeploymentSpec(target));
  RaiseOpenFileLimit(kFdsPerReplica);
  return CheckMachineCapacity(
      1, absl::StrCat("rolling update of Deployment '", spec_.name, "' (one extra replica)"),
      ReadMachineLimits());
}

Status LocalDeployment::RollReplicasLocked(const config::DeploymentSpec& spec) {
  auto target = std::make_shared<config::DeploymentSpec>(spec);
  target->replicas = spec_.replicas;  // a new replica count is applied afterwards, in place
  SHOAL_RETURN_IF_ERROR(CheckCanRollLocked(*target));
  SHOAL_ASSIGN_OR_RETURN(ReplicaBuild build, BuildFor(*target));
  const int total = spec_.shards * spec_.replicas;
  const absl::Time start = absl::Now();
  metrics::Gauge in_progress = metrics::DeploymentRolloutInProgress(spec_.name);
  in_progress.Increment();
  StatusOr<config::SpecChange> change = config::DiffDeploymentSpecs(spec_, *target);
  SHOAL_LOG_INFO("Deployment '%s': rolling update of %d replica(s) started (%s changed)",
                 spec_.name, total,
                 change.ok() ? absl::StrJoin(change->restart, ", ") : std::string("spec"));
  std::vector<std::pair<int, int>> replaced;
  for (int s = 0; s < spec_.shards; ++s) {
    for (int r = 0; r < spec_.replicas; ++r) {
      Status step = ReplaceReplicaLocked(s, r, target, build);
      if (!step.ok()) {
        in_progress.Decrement();
        return AbandonRolloutLocked(step, s, r, std::move(replaced), target.get());
      }
      replaced.emplace_back(s, r);
      SHOAL_LOG_INFO("Deployment '%s': rolling update %d/%d: %s replaced", spec_.name,
                     static_cast<int>(replaced.size()), total, Position(spec_, s, r));
    }
  }
  {
    absl::MutexLock lock(&members_mu_);
    spec_ = *target;
  }
  uses_with_json_ = std::move(build.uses_with_json);
  devices_ = std::move(build.devices);
  metrics::DeploymentRollouts(spec_.name, "done").Increment();
  in_progress.Decrement();
  SHOAL_LOG_INFO("Deployment '%s': rolling update of %d replica(s) done in %s", spec_.name, total,
                 absl::StrFormat("%.1f s", absl::ToDoubleSeconds(absl::Now() - start)));
  return absl::OkStatus();
}

}  // namespace shoal::orchestrator
