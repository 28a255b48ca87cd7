// One member of a Raft cluster: a replicated log whose committed entries every member applies, in
// the same order, to its own state machine through callbacks. The stateful-Deployment replica
// runtime builds on it (DESIGN.md §8). The Raft implementation (hashicorp/raft, with a raft-boltdb
// log and file snapshots under `data_dir`) stays behind this header.
#ifndef SHOAL_CONSENSUS_RAFT_NODE_H_
#define SHOAL_CONSENSUS_RAFT_NODE_H_

#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/common/log.h"

namespace shoal::consensus {

// Whether `status` is a refusal of a call that only the leader takes, made on a member that is
// not the leader (UNAVAILABLE; its message says "not the leader").
bool IsNotLeader(const Status& status);

// A member's Raft ID and transport address ("host:port").
struct Peer {
  std::string id;
  std::string address;
};

struct ApplyResult {
  uint64_t index = 0;    // the entry's position in the log
  std::string response;  // what the leader's apply callback returned for it
};

enum class Role { kFollower, kCandidate, kLeader, kShutdown };

struct RaftStats {
  Role role = Role::kFollower;
  uint64_t term = 0;
  uint64_t last_log_index = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_snapshot_index = 0;
  // Since the last message from a leader; zero on the leader, nullopt when none was ever heard.
  std::optional<absl::Duration> last_contact;
};

// A Raft member. Start() opens or creates its state under `data_dir`, restores the latest
// snapshot and listens on `bind_address`; the cluster forms once the members are bootstrapped
// with the same peer list (at Start() or by Bootstrap()), and a restarted member recovers from
// its own data dir without bootstrapping again.
//
// Callbacks run on threads of the Raft library. `apply`, `snapshot` and `restore` never run
// concurrently with each other (a restore may run inside Start()); none may block for long, since
// commits and snapshots wait for them. A committed entry is applied once per start of a member:
// after a restart the state machine is rebuilt from the last snapshot plus the log, so it must be
// in memory or replayable.
//
// Thread-safe, except that nothing may call a member while it is being destroyed. States: running
// -> shut down (Shutdown() or the destructor); once shut down, calls that need Raft return
// UNAVAILABLE and no callback runs after the destructor returns.
class RaftNode {
 public:
  // Returns the response for a committed entry; the leader's response answers Apply().
  using ApplyFn = std::function<std::string(uint64_t index, std::string_view data)>;
  // Writes the whole state machine to `path` / replaces it with the contents of `path`.
  using SnapshotFn = std::function<Status(const std::string& path)>;
  using RestoreFn = std::function<Status(const std::string& path)>;
  // One line of the library's log.
  using LogFn = std::function<void(LogLevel level, std::string_view line)>;

  struct Options {
    std::string id;            // unique in the cluster, stable across restarts
    std::string bind_address;  // "host:port" (port 0 picks one, see address())
    // The "host:port" peers dial (host may be a DNS name, resolved at each dial); empty: the
    // bound address, which then must not be a wildcard such as 0.0.0.0.
    std::string advertise_address;
    // Bootstraps a new cluster with these voters (ID -> address, this member included). Members
    // that already have state ignore it, so every member may pass the same list at every start.
    // A member without state bootstraps only once every peer has answered that it has none too;
    // when a peer has state, this member joins its group instead (the leader sends it the log).
    std::map<std::string, std::string> peers;
    // How long a member without state waits for every peer to answer before it gives up with
    // FAILED_PRECONDITION naming the peers (bootstrapping could replace the group's data).
    absl::Duration bootstrap_wait = absl::Minutes(1);
    std::string data_dir;  // created if missing; holds raft.db, snapshots/ and temporary files
    // Mutual TLS between members (all three PEM files, or none): TLS 1.2 or later, and each side
    // presents a certificate signed by tls_cafile (checked against the CA only, not against the
    // address dialed). A partial set or an unreadable file is INVALID_ARGUMENT naming it.
    std::string tls_certfile;
    std::string tls_keyfile;
    std::string tls_cafile;
    // Hashicorp names and Jina's units (jina-semantics §5.6): HeartbeatTimeout, ElectionTimeout,
    // CommitTimeout, LeaderLeaseTimeout in ms; SnapshotInterval in seconds; MaxAppendEntries,
    // TrailingLogs, SnapshotThreshold as counts; ShutdownOnRemove, NoSnapshotRestoreOnStart,
    // BatchApplyCh as booleans (BatchApplyCh has no effect on this Raft version); LogLevel one of
    // TRACE, DEBUG, INFO (default), WARN, WARNING, ERROR, OFF.
    google::protobuf::Struct raft_configuration;
    // The leader's read lease (ReadLeaseTerm()). A member with it on, or with state from an
    // earlier start, waits HeartbeatTimeout at start before it takes part (a member that
    // restarted must not vote sooner than it would have without the restart). Every member of
    // a group should have it on, with the same HeartbeatTimeout.
    bool read_lease = false;
    ApplyFn apply;        // required
    SnapshotFn snapshot;  // required
    RestoreFn restore;    // required
    LogFn log;            // default: the process log, each line prefixed with "raft <id>: "
    // Called once, on a library thread, when a committed entry fails its checksum (CRC-32C per
    // entry): the entry and every later one are not applied. The text names the entry and the
    // recovery. Optional; Damaged() says the same.
    std::function<void(std::string_view why)> on_damaged;
  };

  // INVALID_ARGUMENT for missing callbacks or a bad raft_configuration (naming the key);
  // UNAVAILABLE when the address cannot be bound; FAILED_PRECONDITION when another process
  // uses `data_dir` (naming it) or when bootstrapping is not safe (see `peers`); DATA_LOSS for
  // damaged state on disk (naming the file; see ResetState()); INTERNAL for other disk errors.
  static StatusOr<std::unique_ptr<RaftNode>> Start(Options options);

  // Moves the state under `data_dir` (raft.db, snapshots/) aside, renamed with the suffix
  // ".corrupt-<UTC time>", so that a member started on it again has no state and takes its
  // group's state from the leader. Returns the new paths. FAILED_PRECONDITION while a process
  // uses the folder.
  static StatusOr<std::vector<std::string>> ResetState(const std::string& data_dir);

  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;
  ~RaftNode();

  // Bootstraps a new cluster with these voters. ALREADY_EXISTS when this member has state.
  Status Bootstrap(const std::map<std::string, std::string>& peers);

  // Appends `data` to the log and waits, at most `timeout`, until it is committed and applied on
  // this member, which must be the leader. UNAVAILABLE "not the leader" (naming the leader when
  // known) on a follower. DEADLINE_EXCEEDED, or UNAVAILABLE on a lost leadership, leave the
  // outcome unknown: the entry may still commit.
  StatusOr<ApplyResult> Apply(std::string_view data, absl::Duration timeout);

  // Waits until every entry committed before the call is applied on this member (the leader).
  Status Barrier(absl::Duration timeout);
  // Confirms with a quorum that this member is still the leader (for linearizable reads).
  Status VerifyLeader(absl::Duration timeout);
  // With Options::read_lease: the leadership's term while this member is the leader and a quorum
  // of the voters accepted, less than 9/10 of HeartbeatTimeout ago, a message it sent them (no
  // other member can become the leader before HeartbeatTimeout has passed since then); nullopt
  // otherwise, during membership changes and leadership transfers, and without the option.
  // Costs no round trip (the configuration is raft's copy of the latest, read without waiting).
  std::optional<uint64_t> ReadLeaseTerm() const;

  // Membership changes, on the leader.
  Status AddVoter(std::string_view id, std::string_view address, absl::Duration timeout);
  Status RemoveServer(std::string_view id, absl::Duration timeout);
  // Hands the leadership to the most up-to-date other voter and steps down (before the leader
  // is removed: a leader that commits its own removal shuts down with the change's answer
  // possibly unsent).
  Status TransferLeadership(absl::Duration timeout);

  // Snapshots now (through the snapshot callback) and truncates the log to TrailingLogs.
  Status Snapshot();

  bool IsLeader() const;
  // The leader this member knows of, if any.
  std::optional<Peer> Leader() const;
  // The voters of the latest configuration this member knows (committed or not).
  std::vector<Peer> Voters() const;
  // This member's ID and advertised transport address (with the bound port when it was 0).
  const std::string& id() const { return id_; }
  const std::string& address() const { return address_; }
  RaftStats Stats() const;
  // DATA_LOSS once a committed entry failed its checksum (nothing is applied since).
  Status Damaged() const;

  // Stops taking part in the cluster and closes the log. Idempotent.
  Status Shutdown();

 private:
  struct Callbacks;

  explicit RaftNode(Options options);
  // Bootstraps options_.peers only when no member has state (see Options::peers).
  Status BootstrapGroup();

  // Constant after Start().
  const Options options_;
  const std::string id_;
  std::string address_;
  uintptr_t handle_ = 0;  // the library's node; valid until the destructor
};

}  // namespace shoal::consensus

#endif  // SHOAL_CONSENSUS_RAFT_NODE_H_
