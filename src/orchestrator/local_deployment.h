// One Deployment on this machine: its replica processes (spawned and supervised, with GPUs
// assigned round robin) or its external addresses, and the router that reaches them. A
// standalone Deployment also serves a gateway on its port; in a Flow, the Flow's gateway
// borrows the router.
#ifndef SHOAL_ORCHESTRATOR_LOCAL_DEPLOYMENT_H_
#define SHOAL_ORCHESTRATOR_LOCAL_DEPLOYMENT_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/config/deployment_spec.h"
#include "src/config/spec_change.h"
#include "src/metrics/exposer.h"
#include "src/orchestrator/autoscaler.h"
#include "src/orchestrator/inprocess_replicas.h"
#include "src/orchestrator/supervisor.h"
#include "src/routing/deployment_router.h"

namespace shoal::orchestrator {

// The `shoal` executable that replicas run: SHOAL_BIN, else this program when it is `shoal`,
// else `shoal` next to this program, else `shoal` on the PATH.
std::string FindShoalBinary();

// Thread-safe. Started by Start(), stopped by Stop() or the destructor (replicas get SIGTERM,
// then SIGKILL after the stop timeout).
class LocalDeployment {
 public:
  struct Options {
    std::string shoal_binary;  // empty: FindShoalBinary()
    std::string replica_host = "127.0.0.1";
    // Where the Deployment's own metrics (port_monitoring) listen: the host its clients reach,
    // i.e. its gateway's, so that a loopback-only gateway does not expose metrics elsewhere.
    std::string metrics_host = "0.0.0.0";
    // Replica processes (replicas x shards) the Deployment may have, at start and after Scale().
    int max_replicas = config::kDefaultMaxReplicas;
    // The port the first replica listens on (a Flow Executor's `port`); 0: one of its choosing.
    int replica_port = 0;
  };
  static StatusOr<std::unique_ptr<LocalDeployment>> Start(const config::DeploymentSpec& spec,
                                                          const Options& options);
  ~LocalDeployment();

  routing::DeploymentRouter& router() { return *router_; }
  // The spec it runs now (a copy: Update() may replace it meanwhile).
  config::DeploymentSpec spec() const {
    absl::MutexLock lock(&members_mu_);
    return spec_;
  }
  // Replica addresses per shard (host:port).
  std::vector<std::vector<std::string>> ReplicaAddresses() const;
  // The pid of replica `replica` of shard `shard` (-1 when not running or external).
  int ReplicaPid(int shard, int replica) const;
  // Changes the number of replicas of every shard. New replicas start (a stateful one joins
  // its shard's Raft group as a voter and catches up) before the router sends them anything;
  // the highest-numbered ones leave (a stateful one leaves the Raft group first, then the
  // router), then stop. One Scale() at a time.
  Status Scale(int replicas);
  // Moves the running Deployment to `spec` (docs/deployments.md, "Updates"): keys that need no
  // restart are applied in place; a change of the replicas' command line or environment
  // (`uses`, `uses_with`, `env`, ...) replaces the replicas one at a time, rolled back when a
  // new one fails to become ready. One Update() or Scale() at a time.
  Status Update(const config::DeploymentSpec& spec);
  // The port serving the router's metrics (spec.port_monitoring); 0 when it sets none.
  int metrics_port() const { return metrics_ == nullptr ? 0 : metrics_->port(); }
  void Stop();

 private:
  LocalDeployment() = default;
  // Starts the replicas (again, when a picked Raft port was taken meanwhile); their addresses
  // per shard.
  StatusOr<std::vector<std::vector<routing::Address>>> StartLocalReplicas(const Options& options);
  Status StartReplicas(const Options& options);
  // Removes the picked Raft ports and the members' Raft logs, before starting over.
  void ForgetRaftState();
  // Once the router exists: the replicas' ports and health as they are now.
  void CatchUpRouter();
  // After the start of a stateful Deployment: replicas left stopped for damaged Raft state are
  // reported; DATA_LOSS when a group keeps fewer than a quorum.
  Status CheckDamaged();
  // Per shard, the Raft transport port of each replica: peer_ports, else those recorded in the
  // workspace by an earlier run, else new ones (recorded; raft_ports_picked_ set).
  StatusOr<std::vector<std::vector<int>>> RaftPorts(const std::string& host);
  // With spec.autoscaling: starts the autoscaler on the router's in-flight counts (unless
  // stopping, or one runs).
  void StartAutoscaler() ABSL_LOCKS_EXCLUDED(autoscaler_mu_);
  // Why Scale() and Update() cannot change a Deployment without replica processes (external,
  // or inprocess).
  Status NoReplicaProcesses() const;
  // Update() of such a Deployment: the router's settings (retries, timeout_send, polling,
  // load_balancing) change; any other key is NoReplicaProcesses().
  Status UpdateRouterOnly(const config::DeploymentSpec& spec, const config::SpecChange& change)
      ABSL_LOCKS_EXCLUDED(scale_mu_);
  // Gives the router, and spec_, `spec`'s retries, timeout_send, polling and load_balancing.
  Status ApplyRouterKeysLocked(const config::DeploymentSpec& spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // The running autoscaler, stopped and joined (null when none runs). Never called with
  // scale_mu_ held: the autoscaler's thread may be waiting for it in Scale().
  void StopAutoscaler() ABSL_LOCKS_EXCLUDED(autoscaler_mu_, scale_mu_);
  void OnReady(size_t index, int port);
  void OnExit(size_t index);
  // Replica `r` of `shard` as a process: bootstrapping with `members` members, or joining
  // through the gRPC addresses in `join`.
  ReplicaProcessSpec ReplicaSpec(int shard, int r, int members,
                                 const std::vector<std::string>& join) const;
  // What a replica's command line takes from one spec besides the spec itself.
  struct ReplicaBuild {
    std::string uses_with_json;
    std::vector<std::string> devices;  // CUDA_VISIBLE_DEVICES round robin, or empty
  };
  static StatusOr<ReplicaBuild> BuildFor(const config::DeploymentSpec& spec);
  // Replica `r` of `shard` as `spec` and `build` start it.
  ReplicaProcessSpec ReplicaSpec(const config::DeploymentSpec& spec, const ReplicaBuild& build,
                                 int shard, int r, int members,
                                 const std::vector<std::string>& join) const;
  std::string RaftAddress(int shard, int replica) const;
  // Stateful: how many times a rolling update replaced replica `r` of `shard` (0: never). A
  // replacement is a new Raft member: its Raft ID (`rep-<r>.g<n>`) and workspace
  // (`<workspace>/<replica name>.g<n>`) carry the generation; generation 0 keeps `rep-<r>` and
  // the replica's name. Kept in `<workspace>/<name>/raft-generations` for the next start.
  int Generation(int shard, int r) const;
  std::string RaftId(int shard, int r) const;
  std::string ReplicaWorkspace(const config::DeploymentSpec& spec, int shard, int r) const;
  StatusOr<std::vector<std::vector<int>>> ReadRaftGenerations() const;
  Status RecordRaftGenerations() const;
  // Keeps `ports` in the workspace for the next start (unless peer_ports are given).
  Status RecordRaftPorts(const std::vector<std::vector<int>>& ports) const;
  // (shard, position) of supervisor replica `index`, while it is a member.
  std::optional<std::pair<size_t, size_t>> SlotOfLocked(size_t index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(members_mu_);
  // How the router reaches supervisor replica `index`, at `position` of `shard`.
  routing::Address MemberAddressLocked(size_t index, size_t shard, size_t position) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(members_mu_);
  // Gives the router the shard's members as they are now.
  // How long the router waits for its connection to a replica that just became ready before the
  // replica takes calls.
  static constexpr absl::Duration kConnectWait = absl::Seconds(1);
  // Gives the router shard `shard`'s members; new ones join once connected, waited for at
  // most `connect_wait` (ReplicaSet::SetAddresses).
  void SyncRouterLocked(size_t shard, absl::Duration connect_wait = absl::ZeroDuration())
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(members_mu_);
  // Replaces every replica by one started from `spec`, one at a time (Update()).
  Status RollReplicasLocked(const config::DeploymentSpec& spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // Applies the keys of `change.in_place` (Update()).
  Status ApplyInPlaceLocked(const config::DeploymentSpec& spec, const config::SpecChange& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  Status ScaleLocked(int replicas) ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // One step of a rolling update (rollout.cc): starts replica `r` of `shard` from `spec`, gives
  // it the old one's place in the router, lets the old one's calls finish and stops it.
  Status ReplaceReplicaLocked(int shard, int r,
                              const std::shared_ptr<const config::DeploymentSpec>& spec,
                              const ReplicaBuild& build) ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // The same for a stateful replica: the new one joins the Raft group as a voter and catches
  // up, then the old one leaves the group (never below a quorum), the router, and stops.
  Status ReplaceVoterLocked(int shard, int r,
                            const std::shared_ptr<const config::DeploymentSpec>& spec,
                            const ReplicaBuild& build) ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // After step (shard, r) of a rolling update failed with `step`: rolls back, counts the
  // outcome, and returns the error Update() reports.
  Status AbandonRolloutLocked(const Status& step, int shard, int r,
                              std::vector<std::pair<int, int>> replaced,
                              const config::DeploymentSpec* target)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // Starts `process` (from `spec`) and has it take over from replica `r` of `shard`.
  Status SwapInLocked(int shard, int r, const std::shared_ptr<const config::DeploymentSpec>& spec,
                      ReplicaProcessSpec process) ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // Supervisor replica `added` (ready, from `spec`) takes the place of replica `r` of `shard`
  // in the router; the old one drains and stops.
  void TakeOverLocked(int shard, int r, size_t added,
                      const std::shared_ptr<const config::DeploymentSpec>& spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // Whether this machine and the Deployment allow a rolling update to `target`.
  Status CheckCanRollLocked(const config::DeploymentSpec& target)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // Gives replica `r` of `shard` Raft generation `generation` and Raft port `port`.
  void SetRaftMember(int shard, int r, int generation, int port);
  // Puts back the replicas `replaced` (shard, replica) from the old spec, last first.
  Status RollBackLocked(const std::vector<std::pair<int, int>>& replaced)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scale_mu_);
  // Waits (at most the stop timeout) until no call runs on `address`, out of the router.
  void AwaitDrained(size_t shard, const routing::Address& address) const;
  // The spec supervisor replica `index` was started from.
  const config::DeploymentSpec& StartedFromLocked(size_t index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(members_mu_);
  Status Grow(int shard, int from, int to, absl::Duration timeout);
  Status Shrink(int shard, int from, int to, absl::Duration timeout);

  // Written under scale_mu_ and members_mu_ together (Scale, Update); read under either.
  config::DeploymentSpec spec_;
  std::string replica_host_;
  int max_replicas_ = config::kDefaultMaxReplicas;
  int replica_port_ = 0;
  bool raft_ports_picked_ = false;
  // What every replica's command line needs; set by StartReplicas().
  std::string binary_;
  std::string uses_with_json_;
  std::string raft_configuration_json_;
  std::vector<std::string> devices_;           // CUDA_VISIBLE_DEVICES round robin, or empty
  std::vector<std::vector<int>> raft_ports_;   // per shard, per replica
  std::vector<std::vector<int>> generations_;  // per shard, per replica; missing: 0
  absl::Mutex update_mu_ ABSL_ACQUIRED_BEFORE(scale_mu_);  // one Update() at a time
  absl::Mutex scale_mu_;                                   // one Scale() at a time
  mutable absl::Mutex members_mu_;
  // Per shard, the supervisor index of each replica, in the router's order.
  std::vector<std::vector<size_t>> members_ ABSL_GUARDED_BY(members_mu_);
  // Per supervisor index, the spec a rolling update started that replica from (null: spec_).
  std::vector<std::shared_ptr<const config::DeploymentSpec>> started_from_
      ABSL_GUARDED_BY(members_mu_);
  // inprocess: true: the replicas, in this process. Before router_, so destroyed after it.
  std::unique_ptr<InProcessReplicas> inprocess_;
  std::unique_ptr<routing::DeploymentRouter> router_;
  // router_ once it exists, for the supervisor's callbacks (they start before it does).
  std::atomic<routing::DeploymentRouter*> live_router_{nullptr};
  std::unique_ptr<Supervisor> supervisor_;     // null for external and inprocess Deployments
  std::unique_ptr<metrics::Exposer> metrics_;  // with spec.port_monitoring
  // With spec.autoscaling (local replicas only); last, so it stops before the rest goes.
  // Replaced by Update() when `autoscaling` changes.
  absl::Mutex autoscaler_mu_;
  bool stopped_ ABSL_GUARDED_BY(autoscaler_mu_) = false;
  std::unique_ptr<Autoscaler> autoscaler_ ABSL_GUARDED_BY(autoscaler_mu_);
};

// `spec` is valid and this machine can run its replicas (at most `max_replicas`); warns about
// a stateful Deployment that tolerates no replica failure.
Status CheckDeploymentCanStart(const config::DeploymentSpec& spec, int max_replicas);

// The replica names as Jina writes them: `name/rep-i`, or `name/shard-s/rep-i` with shards.
std::string ReplicaName(const std::string& deployment, int shards, int shard, int replica);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_LOCAL_DEPLOYMENT_H_
