// StatefulReplica: the Raft log's apply callback runs write requests on the executor thread;
// answers are remembered by request id so that a retried write is applied once.
#include "src/executor/stateful.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "src/common/log.h"

namespace shoal::executor {
namespace {

constexpr size_t kRemembered = 10000;

std::vector<metrics::Sample> RaftSamples(const consensus::RaftStats& stats) {
  std::vector<metrics::Sample> samples;
  constexpr std::pair<consensus::Role, const char*> kRoles[] = {
      {consensus::Role::kFollower, "follower"},
      {consensus::Role::kCandidate, "candidate"},
      {consensus::Role::kLeader, "leader"},
      {consensus::Role::kShutdown, "shutdown"}};
  for (const auto& [role, name] : kRoles) {
    samples.push_back({.name = "shoal_raft_role",
                       .help = "1 for the Raft role this replica has now, 0 for the others",
                       .labels = {{"role", name}},
                       .value = stats.role == role ? 1.0 : 0.0});
  }
  auto gauge = [&](const char* name, const char* help, uint64_t value) {
    samples.push_back({.name = name, .help = help, .value = static_cast<double>(value)});
  };
  gauge("shoal_raft_term", "The Raft term this replica is in", stats.term);
  gauge("shoal_raft_last_log_index", "The last index in this replica's Raft log",
        stats.last_log_index);
  gauge("shoal_raft_commit_index", "The last Raft log index this replica knows is committed",
        stats.commit_index);
  gauge("shoal_raft_applied_index", "The last Raft log index applied to this replica's Executor",
        stats.applied_index);
  gauge("shoal_raft_last_snapshot_index", "The Raft log index of this replica's last snapshot",
        stats.last_snapshot_index);
  return samples;
}

}  // namespace

StatusOr<std::unique_ptr<StatefulReplica>> StatefulReplica::Start(ReplicaRuntime* runtime,
                                                                  Options options) {
  std::unique_ptr<StatefulReplica> replica(new StatefulReplica(runtime));
  replica->apply_timeout_ = options.apply_timeout;
  replica->linearizable_reads_ = options.linearizable_reads;
  StatefulReplica* self = replica.get();
  consensus::RaftNode::Options raft;
  raft.id = options.id;
  raft.bind_address = options.address;
  raft.advertise_address = options.advertise;
  raft.peers = options.peers;
  raft.data_dir = options.data_dir;
  raft.raft_configuration = options.raft_configuration;
  raft.apply = [self](uint64_t, std::string_view data) { return self->Apply(data); };
  raft.snapshot = [self](const std::string& path) {
    return self->OnExecutorThread([self, path] { return self->runtime_->SnapshotTo(path); });
  };
  raft.restore = [self](const std::string& path) {
    return self->OnExecutorThread([self, path] { return self->runtime_->RestoreFrom(path); });
  };
  SHOAL_ASSIGN_OR_RETURN(replica->raft_, consensus::RaftNode::Start(std::move(raft)));
  const std::string& name = runtime->name();
  replica->metrics_ = metrics::AddSampler(
      {{"deployment", std::string(metrics::DeploymentOf(name))}, {"replica", name}},
      [self] { return RaftSamples(self->raft_->Stats()); });
  return replica;
}

StatefulReplica::~StatefulReplica() {
  metrics_ = metrics::SamplerRegistration();
  submit_.Stop();
  if (raft_ != nullptr) raft_->Shutdown().IgnoreError();
}

Status StatefulReplica::OnExecutorThread(absl::AnyInvocable<Status()> work) {
  Status result = absl::UnavailableError("the replica is shutting down");
  absl::Notification done;
  if (!runtime_->Post([&] {
        result = work();
        done.Notify();
      })) {
    return result;
  }
  done.WaitForNotification();
  return result;
}

std::string StatefulReplica::Apply(std::string_view data) {
  jina::DataRequestProto request;
  if (!request.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    SHOAL_LOG_ERROR("a Raft log entry is not a DataRequestProto (%d bytes); skipped",
                    static_cast<int>(data.size()));
    return "";
  }
  const std::string id = request.header().request_id();
  {
    absl::MutexLock lock(&mu_);
    auto seen = answered_.find(id);
    if (!id.empty() && seen != answered_.end()) return seen->second;
  }
  Status processed = OnExecutorThread([&]() -> Status {
    StatusOr<bool> failed = runtime_->Process(request);
    return failed.status();
  });
  if (!processed.ok()) {
    // The same entry fails the same way on every replica: the answer says so.
    jina::StatusProto* status = request.mutable_header()->mutable_status();
    status->set_code(jina::StatusProto::ERROR);
    status->set_description(std::string(processed.message()));
  }
  std::string answer = request.SerializeAsString();
  if (!id.empty()) {
    absl::MutexLock lock(&mu_);
    answered_.emplace(id, answer);
    answered_order_.push_back(id);
    if (answered_order_.size() > kRemembered) {
      answered_.erase(answered_order_.front());
      answered_order_.pop_front();
    }
  }
  return answer;
}

void StatefulReplica::Write(std::string request,
                            absl::AnyInvocable<void(StatusOr<jina::DataRequestProto>)> done) {
  auto task = [this, request = std::move(request), done = std::move(done)]() mutable {
    StatusOr<consensus::ApplyResult> applied = raft_->Apply(request, apply_timeout_);
    if (!applied.ok()) {
      done(applied.status());
      return;
    }
    jina::DataRequestProto answer;
    if (!answer.ParseFromString(applied->response)) {
      done(absl::InternalError("the replicated write produced no answer"));
      return;
    }
    done(std::move(answer));
  };
  if (!submit_.Post(std::move(task))) {
    // Only while shutting down; the caller's call is cancelled by the server's shutdown.
    SHOAL_LOG_WARNING("a write arrived while the replica was shutting down");
  }
}

void StatefulReplica::ConfirmLeader(absl::AnyInvocable<void(Status)> done) {
  auto task = [this, done = std::move(done)]() mutable {
    if (!raft_->IsLeader()) {
      std::optional<consensus::Peer> leader = raft_->Leader();
      done(absl::UnavailableError(
          leader.has_value() ? absl::StrCat("not the leader; the leader is '", leader->id, "' at ",
                                            leader->address)
                             : std::string("not the leader; no leader is known")));
      return;
    }
    Status verified = raft_->VerifyLeader(apply_timeout_);
    uint64_t term = raft_->Stats().term;
    if (verified.ok() && term != barrier_term_) {
      // Everything committed in earlier terms is applied here before the first read of a term.
      verified = raft_->Barrier(apply_timeout_);
      if (verified.ok()) barrier_term_ = term;
    }
    done(verified);
  };
  if (!submit_.Post(std::move(task))) {
    SHOAL_LOG_WARNING("a read arrived while the replica was shutting down");
  }
}

Status StatefulReplica::WaitCaughtUp(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (raft_->IsLeader()) {
      if (raft_->Barrier(deadline - absl::Now()).ok()) return absl::OkStatus();
    } else if (raft_->Leader().has_value()) {
      consensus::RaftStats stats = raft_->Stats();
      if (stats.last_contact.has_value() && stats.commit_index > 0 &&
          stats.applied_index >= stats.commit_index) {
        return absl::OkStatus();
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "replica '", raft_->id(), "' did not catch up with a Raft leader within ",
      absl::FormatDuration(timeout)));
}

}  // namespace shoal::executor
