// A stateful replica: the Executor becomes a replicated state machine. Requests to write
// endpoints are appended to the Raft log; once committed, every replica applies them through its
// Executor in log order, and the leader's answer answers the caller. A request id seen before is
// applied once: the same request again (same endpoint, documents and parameters, by digest) gets
// its first answer again (or the request itself once that answer was let go); another request
// under that id is refused with ALREADY_EXISTS. Raft snapshots hold the Executor's Snapshot()
// and the remembered request ids with their digests.
#ifndef SHOAL_REPLICA_STATEFUL_H_
#define SHOAL_REPLICA_STATEFUL_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "jina.pb.h"
#include "shoal/status.h"
#include "src/common/task_thread.h"
#include "src/consensus/raft_node.h"
#include "src/metrics/metrics.h"
#include "src/replica/commit_queue.h"
#include "src/replica/replicated_log.h"
#include "src/replica/runtime.h"

namespace shoal::replica {

// Whether removing member `id` from a group whose voters are `voters` keeps at least a quorum
// of the current configuration (floor(n/2) + 1 of its n voters) as voters. FAILED_PRECONDITION
// naming the voters and the quorum otherwise; OK when `force` or `id` is not a voter.
Status CheckRemoval(const std::vector<consensus::Peer>& voters, std::string_view id, bool force);

// Thread-safe. Borrows the runtime, which outlives it. Writes are committed on their own threads
// (never the executor thread, which applies the log's entries), several per log entry when they
// arrive together (group commit, log_entry.h). The Raft thread hands each committed entry to the
// executor thread and returns; the executor thread answers the entry's writers once it applied
// it (or the committer does, when the entry was applied before it asked).
class StatefulReplica : public ReplicatedLog {
 public:
  struct Options {
    std::string id;                            // Raft ID, stable across restarts
    std::string address;                       // Raft transport host:port to bind
    std::string advertise;                     // host:port peers dial; empty: `address`
    std::map<std::string, std::string> peers;  // every member: ID -> address (bootstrap)
    bool bootstrap_alone = false;              // no peers: bootstrap a group of this member only
    std::string data_dir;                      // Raft log and snapshots
    // Mutual TLS of the Raft transport (consensus::RaftNode::Options): all three or none.
    std::string tls_certfile;
    std::string tls_keyfile;
    std::string tls_cafile;
    google::protobuf::Struct raft_configuration;  // keys in PascalCase or snake_case
    absl::Duration apply_timeout = absl::Seconds(10);
    bool linearizable_reads = false;  // read_consistency: linearizable
    // A member without state waits this long for every peer to say whether it has state
    // before it bootstraps a new group (consensus::RaftNode::Options::bootstrap_wait).
    absl::Duration bootstrap_wait = absl::Minutes(1);
    // Called once when a committed entry fails its checksum (nothing more is applied).
    std::function<void(std::string_view why)> on_damaged;
  };
  static StatusOr<std::unique_ptr<StatefulReplica>> Start(ReplicaRuntime* runtime, Options options);
  ~StatefulReplica();

  // Replicates a write request (the bytes it arrived as) and calls `done` (on a committer or the
  // executor thread) with the leader's answer: the answered request, or UNAVAILABLE "not the
  // leader" on a follower, so that the router tries another replica. `done` is always called,
  // with UNAVAILABLE (on the calling thread) once the replica is shutting down; so is every
  // `done` below.
  void Write(std::string request, absl::AnyInvocable<void(StatusOr<WriteAnswer>)> done) override;
  // Waits until this replica has a leader and has applied everything it knows is committed
  // (a restarted replica must not serve stale state). DEADLINE_EXCEEDED after `timeout`.
  Status WaitCaughtUp(absl::Duration timeout);
  // With linearizable reads: a read runs at once while the leader's read lease holds
  // (consensus::RaftNode::ReadLeaseTerm) in a term whose barrier ran; otherwise ConfirmLeader
  // confirms on its own thread that this replica is the leader (a quorum round, plus a barrier
  // once per term) before `done(OK)`; UNAVAILABLE "not the leader" on a follower. Reads that
  // arrive while a round runs share the next round.
  bool linearizable_reads() const override { return linearizable_reads_; }
  bool ReadLeaseHolds() override;
  void ConfirmLeader(absl::AnyInvocable<void(Status)> done) override;
  consensus::RaftStats Stats() const { return raft_->Stats(); }
  // Leadership rounds run for linearizable reads, reads served under the read lease, and write
  // batches committed, so far.
  uint64_t leader_checks() const { return leader_checks_->rounds(); }
  uint64_t lease_reads() const { return lease_reads_.load(std::memory_order_relaxed); }
  uint64_t write_batches() const { return commits_->batches(); }
  const std::string& id() const { return raft_->id(); }
  // The address peers dial to reach this member.
  const std::string& raft_address() const { return raft_->address(); }

  // Membership changes of the shard, on the leader (UNAVAILABLE "not the leader" elsewhere);
  // `done` runs on the submit thread once the new configuration is committed. The leader
  // refuses (FAILED_PRECONDITION) a voter whose Raft address does not accept connections, and,
  // unless `force`, a removal that CheckRemoval refuses.
  void AddVoter(std::string id, std::string address, absl::AnyInvocable<void(Status)> done);
  void RemoveServer(std::string id, bool force, absl::AnyInvocable<void(Status)> done);

 private:
  explicit StatefulReplica(ReplicaRuntime* runtime) : runtime_(runtime) {}
  // One request's outcome in an applied entry.
  struct Applied {
    WriteAnswer answer;
    // Not OK: the writer gets this instead (ALREADY_EXISTS: the request id was used for another
    // request; INVALID_ARGUMENT: the bytes are not a request).
    Status status;
  };
  // On the executor thread: applies one committed entry (once per request, exactly-once by
  // request id); one outcome per request, none when the entry is not one.
  std::vector<Applied> Apply(std::string_view data);
  Applied ApplyRequest(std::string_view bytes);
  // Remembers the answer to request `id`, letting go of the oldest beyond the budgets.
  void Remember(const std::string& id, std::string digest, const WriteAnswer& answer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Raft snapshots: the remembered request ids and the Executor's Snapshot()/Restore() file.
  Status WriteSnapshot(const std::string& path);
  Status ReadSnapshot(const std::string& path);
  Status OnExecutorThread(absl::AnyInvocable<Status()> work);
  // Whether the executor thread ran every task posted before this call by `deadline`.
  bool ExecutorThreadReached(absl::Time deadline);
  // The Raft apply callback: hands the committed entry to the executor thread and returns at
  // once (the Raft thread must not wait for an Executor). Entries are applied there in log order.
  void HandOver(uint64_t index, std::string_view data);
  // On a committer thread: appends a batch of writes as one entry; its writers are answered
  // once the entry is applied here.
  void Commit(CommitQueue::Batch batch);
  // On the executor thread: answers entry `index`'s writers, or keeps its answers until they
  // ask (Await).
  void Keep(uint64_t index, std::vector<Applied> applied);
  // Answers the writers of entry `index` from its kept answers, or has Keep answer them.
  void Await(uint64_t index, std::vector<CommitQueue::Done> dones);
  static void Answer(std::vector<Applied> applied, std::vector<CommitQueue::Done> dones);
  // Answers every writer still waiting with `status` (shutting down).
  void AbandonWaiting(const Status& status);
  // A linearizable read's round: VerifyLeader, plus a barrier once per term.
  Status CheckLeader();
  // "Not the leader" (rpc/leader.h), naming the leader when known.
  Status NotLeader() const;
  // NotLeader() for a refusal from the Raft node, else `status`.
  Status LeaderHint(Status status) const;

  ReplicaRuntime* const runtime_;
  std::unique_ptr<consensus::RaftNode> raft_;
  absl::Duration apply_timeout_;
  bool linearizable_reads_ = false;
  std::atomic<uint64_t> barrier_term_{0};  // the term whose barrier ran
  std::atomic<uint64_t> lease_reads_{0};
  absl::Mutex mu_;
  // The last kRemembered request ids applied, for exactly-once writes, with the digest of their
  // request and their answers while these fit kAnswerBudget bytes (an empty answer: let go, or
  // restored from a snapshot; an empty digest: restored from a version 1 snapshot).
  struct Answered {
    std::string digest;
    std::string answer;
    bool executor_failed = false;
  };
  std::map<std::string, Answered> answered_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> answered_order_ ABSL_GUARDED_BY(mu_);
  size_t answer_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t trimmed_ ABSL_GUARDED_BY(mu_) = 0;  // answered_order_[0, trimmed_) have no answer
  // Answers of the last applied entries that no writer waits for yet: at most kKept entries and
  // kKeptBytes bytes (the newest is always kept). Followers keep theirs too, unasked.
  static constexpr size_t kKept = 256;
  static constexpr size_t kKeptBytes = 16 << 20;
  absl::Mutex kept_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::deque<std::pair<uint64_t, std::vector<Applied>>> kept_ ABSL_GUARDED_BY(kept_mu_);
  size_t kept_bytes_ ABSL_GUARDED_BY(kept_mu_) = 0;
  uint64_t applied_through_ ABSL_GUARDED_BY(kept_mu_) = 0;  // the last entry applied
  // Writers of entries appended but not applied yet, by index.
  std::map<uint64_t, std::vector<CommitQueue::Done>> waiting_ ABSL_GUARDED_BY(kept_mu_);
  bool closing_ ABSL_GUARDED_BY(kept_mu_) = false;
  // Membership changes run on this thread.
  bool Submit(absl::AnyInvocable<void()> task);
  std::unique_ptr<TaskThread> submit_;
  // Group commit and batched leadership checks (closed first in the destructor).
  std::unique_ptr<CommitQueue> commits_;
  std::unique_ptr<LeaderChecks> leader_checks_;
  // shoal_raft_* gauges, sampled at each scrape. Last: removed first.
  metrics::SamplerRegistration metrics_;
};

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_STATEFUL_H_
