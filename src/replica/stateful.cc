// StatefulReplica: the Raft log's apply callback runs write requests on the executor thread;
// answers are remembered by request id so that a retried write is applied once.
#include "src/replica/stateful.h"

#include <netdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "src/common/always_called.h"
#include "src/common/log.h"
#include "src/config/deployment_spec.h"
#include "src/replica/log_entry.h"
#include "src/replica/raft_snapshot.h"
#include "src/rpc/leader.h"

namespace shoal::replica {
namespace {

constexpr size_t kRemembered = 10000;
// Answers kept for repeated writes, in bytes; older ids are remembered without their answer.
constexpr size_t kAnswerBudget = 64 << 20;

// What a caller's `done` gets when its task was dropped: the replica is shutting down.
Status ShuttingDown() { return absl::UnavailableError("the replica is shutting down"); }

// SHA-256 of what makes two requests the same write: the endpoint, the parameters and the
// documents, each serialized deterministically and length-prefixed.
std::string RequestDigest(const jina::DataRequestProto& request) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  auto add = [context](const std::string& bytes) {
    const uint64_t size = bytes.size();
    EVP_DigestUpdate(context, &size, sizeof(size));
    EVP_DigestUpdate(context, bytes.data(), bytes.size());
  };
  auto deterministic = [](const google::protobuf::Message& message) {
    std::string bytes;
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
    coded.Trim();
    return bytes;
  };
  add(request.header().exec_endpoint());
  add(deterministic(request.parameters()));
  add(deterministic(request.data()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(context, digest, &size);
  EVP_MD_CTX_free(context);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

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

// The metrics of the batching in front of the log.
void AddBatchingSamples(uint64_t write_batches, uint64_t leader_checks, uint64_t lease_reads,
                        std::vector<metrics::Sample>& samples) {
  samples.push_back({.name = "shoal_raft_write_batches",
                     .help = "Log entries of writes this replica appended as the leader, each "
                             "holding the writes that arrived together",
                     .value = static_cast<double>(write_batches)});
  samples.push_back({.name = "shoal_raft_leader_checks",
                     .help = "Leadership confirmations for linearizable reads, each shared by "
                             "the reads that waited for it",
                     .value = static_cast<double>(leader_checks)});
  samples.push_back({.name = "shoal_raft_lease_reads",
                     .help = "Linearizable reads served under the leader's read lease, without "
                             "a leadership confirmation",
                     .value = static_cast<double>(lease_reads)});
}

}  // namespace

StatusOr<std::unique_ptr<StatefulReplica>> StatefulReplica::Start(ReplicaRuntime* runtime,
                                                                  Options options) {
  std::unique_ptr<StatefulReplica> replica(new StatefulReplica(runtime));
  StatefulReplica* self = replica.get();
  replica->submit_ = std::make_unique<TaskThread>("raft-submit");
  replica->commits_ = std::make_unique<CommitQueue>(
      CommitQueue::Options{}, [self](CommitQueue::Batch batch) { self->Commit(std::move(batch)); });
  replica->leader_checks_ = std::make_unique<LeaderChecks>([self] { return self->CheckLeader(); });
  replica->apply_timeout_ = options.apply_timeout;
  replica->linearizable_reads_ = options.linearizable_reads;
  consensus::RaftNode::Options raft;
  raft.id = options.id;
  raft.bind_address = options.address;
  raft.advertise_address = options.advertise;
  raft.peers = options.peers;
  raft.data_dir = options.data_dir;
  raft.bootstrap_wait = options.bootstrap_wait;
  raft.tls_certfile = options.tls_certfile;
  raft.tls_keyfile = options.tls_keyfile;
  raft.tls_cafile = options.tls_cafile;
  raft.on_damaged = options.on_damaged;
  raft.read_lease = options.linearizable_reads;
  SHOAL_ASSIGN_OR_RETURN(raft.raft_configuration,
                         config::CanonicalRaftConfiguration(options.raft_configuration));
  raft.apply = [self](uint64_t index, std::string_view data) {
    self->HandOver(index, data);
    return std::string();
  };
  raft.snapshot = [self](const std::string& path) { return self->WriteSnapshot(path); };
  raft.restore = [self](const std::string& path) { return self->ReadSnapshot(path); };
  SHOAL_ASSIGN_OR_RETURN(replica->raft_, consensus::RaftNode::Start(std::move(raft)));
  if (options.bootstrap_alone) {
    Status bootstrapped =
        replica->raft_->Bootstrap({{replica->raft_->id(), replica->raft_->address()}});
    if (!bootstrapped.ok() && bootstrapped.code() != absl::StatusCode::kAlreadyExists) {
      return bootstrapped;
    }
  }
  const std::string& name = runtime->name();
  replica->metrics_ = metrics::AddSampler(
      {{"deployment", std::string(metrics::DeploymentOf(name))}, {"replica", name}}, [self] {
        std::vector<metrics::Sample> samples = RaftSamples(self->raft_->Stats());
        AddBatchingSamples(self->write_batches(), self->leader_checks(), self->lease_reads(),
                           samples);
        return samples;
      });
  return replica;
}

StatefulReplica::~StatefulReplica() {
  metrics_ = metrics::SamplerRegistration();
  // The writes and reads queued are committed or checked first, while Raft runs.
  if (commits_ != nullptr) commits_->Close();
  if (leader_checks_ != nullptr) leader_checks_->Close();
  if (submit_ != nullptr) submit_->Stop();
  if (raft_ != nullptr) raft_->Shutdown().IgnoreError();
  // Entries handed to the executor thread hold `this`: they run before it goes, answering
  // their writers; the writers of entries never applied here are answered UNAVAILABLE.
  OnExecutorThread([] { return absl::OkStatus(); }).IgnoreError();
  AbandonWaiting(ShuttingDown());
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

bool StatefulReplica::ExecutorThreadReached(absl::Time deadline) {
  auto reached = std::make_shared<absl::Notification>();
  if (!runtime_->Post([reached] { reached->Notify(); })) return false;
  return reached->WaitForNotificationWithDeadline(deadline);
}

void StatefulReplica::HandOver(uint64_t index, std::string_view data) {
  if (!runtime_->Post([this, index, entry = std::string(data)] { Keep(index, Apply(entry)); })) {
    SHOAL_LOG_WARNING("Raft entry %d was not applied: the replica is shutting down",
                      static_cast<int64_t>(index));
  }
}

void StatefulReplica::Answer(std::vector<Applied> applied, std::vector<CommitQueue::Done> dones) {
  for (size_t i = 0; i < dones.size(); ++i) {
    if (applied.size() != dones.size()) {
      dones[i](absl::InternalError("the replicated write's log entry could not be applied"));
    } else if (!applied[i].status.ok()) {
      dones[i](std::move(applied[i].status));
    } else {
      dones[i](std::move(applied[i].answer));
    }
  }
}

void StatefulReplica::Keep(uint64_t index, std::vector<Applied> applied) {
  std::vector<CommitQueue::Done> dones;
  {
    absl::MutexLock lock(&kept_mu_);
    applied_through_ = std::max(applied_through_, index);
    auto waiting = waiting_.find(index);
    if (waiting != waiting_.end()) {
      dones = std::move(waiting->second);
      waiting_.erase(waiting);
    } else {
      for (const Applied& one : applied) kept_bytes_ += one.answer.bytes.size();
      kept_.emplace_back(index, std::move(applied));
      while (kept_.size() > 1 && (kept_.size() > kKept || kept_bytes_ > kKeptBytes)) {
        for (const Applied& one : kept_.front().second) kept_bytes_ -= one.answer.bytes.size();
        kept_.pop_front();
      }
      return;
    }
  }
  Answer(std::move(applied), std::move(dones));
}

void StatefulReplica::Await(uint64_t index, std::vector<CommitQueue::Done> dones) {
  std::vector<Applied> applied;
  bool kept = false;
  {
    absl::MutexLock lock(&kept_mu_);
    auto found = std::find_if(kept_.begin(), kept_.end(),
                              [index](const auto& entry) { return entry.first == index; });
    if (found == kept_.end()) {
      if (applied_through_ < index && !closing_) {
        waiting_.emplace(index, std::move(dones));  // Keep answers them
        return;
      }
    } else {
      kept = true;
      applied = std::move(found->second);
      for (const Applied& one : applied) kept_bytes_ -= one.answer.bytes.size();
      kept_.erase(found);
    }
  }
  if (!kept) {
    const Status lost = absl::UnavailableError(
        "the write was applied but its answer was not kept (many writes at once, or the replica "
        "is shutting down); send it again with the same request id for its answer");
    for (auto& done : dones) done(lost);
    return;
  }
  Answer(std::move(applied), std::move(dones));
}

void StatefulReplica::AbandonWaiting(const Status& status) {
  std::map<uint64_t, std::vector<CommitQueue::Done>> waiting;
  {
    absl::MutexLock lock(&kept_mu_);
    closing_ = true;
    waiting.swap(waiting_);
  }
  for (auto& [index, dones] : waiting) {
    for (auto& done : dones) done(status);
  }
}

std::vector<StatefulReplica::Applied> StatefulReplica::Apply(std::string_view data) {
  StatusOr<std::vector<std::string_view>> requests = DecodeLogEntry(data);
  if (!requests.ok()) {
    SHOAL_LOG_ERROR("a Raft log entry was skipped: %s", requests.status().ToString());
    return {};
  }
  std::vector<Applied> applied;
  applied.reserve(requests->size());
  for (std::string_view request : *requests) applied.push_back(ApplyRequest(request));
  return applied;
}

StatefulReplica::Applied StatefulReplica::ApplyRequest(std::string_view bytes) {
  // Shared: an Executor may keep views of the request past the call (runtime.h).
  auto owner = std::make_shared<jina::DataRequestProto>();
  jina::DataRequestProto& request = *owner;
  Applied applied;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    SHOAL_LOG_ERROR("a request in a Raft log entry is not a DataRequestProto (%d bytes); skipped",
                    static_cast<int>(bytes.size()));
    applied.status = absl::InvalidArgumentError(absl::StrCat(
        "the replicated write (", bytes.size(), " bytes) is not a jina.DataRequestProto"));
    return applied;
  }
  const std::string id = request.header().request_id();
  const std::string digest = id.empty() ? std::string() : RequestDigest(request);
  {
    absl::MutexLock lock(&mu_);
    auto seen = answered_.find(id);
    if (!id.empty() && seen != answered_.end()) {
      if (!seen->second.digest.empty() && seen->second.digest != digest) {
        applied.status = absl::AlreadyExistsError(absl::StrCat(
            "request id '", id,
            "' was already used for another request (other endpoint, documents or parameters); "
            "a retry must send the same request, a new request needs a new id"));
        return applied;
      }
      // Applied before: its first answer, or, when that was let go, the request itself.
      if (seen->second.answer.empty()) {
        applied.answer.bytes.assign(bytes.data(), bytes.size());
      } else {
        applied.answer = {seen->second.answer, seen->second.executor_failed};
      }
      return applied;
    }
  }
  Status processed = runtime_->Process(request, ReplicaRuntime::Clock::now(), owner).status();
  if (!processed.ok()) {
    // The same entry fails the same way on every replica: the answer says so.
    jina::StatusProto* status = request.mutable_header()->mutable_status();
    status->set_code(jina::StatusProto::ERROR);
    status->set_description(std::string(processed.message()));
  }
  applied.answer.executor_failed = request.header().status().code() == jina::StatusProto::ERROR;
  request.SerializeToString(&applied.answer.bytes);
  if (!id.empty()) {
    absl::MutexLock lock(&mu_);
    Remember(id, digest, applied.answer);
  }
  return applied;
}

void StatefulReplica::Remember(const std::string& id, std::string digest,
                               const WriteAnswer& answer) {
  answer_bytes_ += answer.bytes.size();
  answered_.emplace(id, Answered{std::move(digest), answer.bytes, answer.executor_failed});
  answered_order_.push_back(id);
  if (answered_order_.size() > kRemembered) {
    auto oldest = answered_.find(answered_order_.front());
    answer_bytes_ -= oldest->second.answer.size();
    answered_.erase(oldest);
    answered_order_.pop_front();
    if (trimmed_ > 0) --trimmed_;
  }
  while (answer_bytes_ > kAnswerBudget && trimmed_ < answered_order_.size()) {
    std::string& dropped = answered_[answered_order_[trimmed_++]].answer;
    answer_bytes_ -= dropped.size();
    std::string().swap(dropped);
  }
}

Status StatefulReplica::WriteSnapshot(const std::string& path) {
  const std::string executor_file = path + ".executor";
  Status written =
      OnExecutorThread([this, &executor_file] { return runtime_->SnapshotTo(executor_file); });
  if (written.ok()) {
    written = WriteRaftSnapshot(path, executor_file, [this](SnapshotWriter& writer) {
      absl::MutexLock lock(&mu_);
      writer.WriteU64(answered_order_.size());
      for (const std::string& id : answered_order_) {
        WriteRememberedId(writer, id, answered_[id].digest);
      }
    });
  }
  std::error_code ignored;
  std::filesystem::remove(executor_file, ignored);
  return written;
}

Status StatefulReplica::ReadSnapshot(const std::string& path) {
  const std::string executor_file = path + ".executor";
  std::vector<RememberedId> ids;
  Status read = ReadRaftSnapshot(path, executor_file, kRemembered, &ids);
  if (!read.ok()) {
    std::error_code ignored;
    std::filesystem::remove(executor_file, ignored);
    return read;
  }
  Status restored =
      OnExecutorThread([this, &executor_file] { return runtime_->RestoreFrom(executor_file); });
  std::error_code ignored;
  std::filesystem::remove(executor_file, ignored);
  SHOAL_RETURN_IF_ERROR(restored);
  absl::MutexLock lock(&mu_);
  answered_.clear();
  answered_order_.clear();
  answer_bytes_ = 0;
  trimmed_ = 0;
  for (auto& [id, digest] : ids) {
    answered_.emplace(id, Answered{std::move(digest), std::string()});
    answered_order_.push_back(std::move(id));
  }
  trimmed_ = answered_order_.size();
  return absl::OkStatus();
}

bool StatefulReplica::Submit(absl::AnyInvocable<void()> task) {
  return submit_->Post(std::move(task));
}

void StatefulReplica::Write(std::string request,
                            absl::AnyInvocable<void(StatusOr<WriteAnswer>)> done) {
  commits_->Add(std::move(request), std::move(done));
}

void StatefulReplica::Commit(CommitQueue::Batch batch) {
  StatusOr<consensus::ApplyResult> appended =
      raft_->Apply(EncodeLogEntry(batch.requests), apply_timeout_);
  if (!appended.ok()) {
    const Status status = LeaderHint(appended.status());
    for (auto& done : batch.dones) done(status);
    return;
  }
  Await(appended->index, std::move(batch.dones));
}

bool StatefulReplica::ReadLeaseHolds() {
  const std::optional<uint64_t> term = raft_->ReadLeaseTerm();
  if (!term.has_value() || *term != barrier_term_.load()) return false;
  lease_reads_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void StatefulReplica::ConfirmLeader(absl::AnyInvocable<void(Status)> done) {
  leader_checks_->Confirm(std::move(done));
}

Status StatefulReplica::CheckLeader() {
  if (!raft_->IsLeader()) return NotLeader();
  Status verified = raft_->VerifyLeader(apply_timeout_);
  uint64_t term = raft_->Stats().term;
  if (verified.ok() && term != barrier_term_) {
    // Everything committed in earlier terms is applied here before the first read of a term.
    verified = raft_->Barrier(apply_timeout_);
    if (verified.ok()) barrier_term_ = term;
  }
  return LeaderHint(std::move(verified));
}

Status CheckRemoval(const std::vector<consensus::Peer>& voters, std::string_view id, bool force) {
  const bool is_voter = std::any_of(voters.begin(), voters.end(),
                                    [&](const consensus::Peer& p) { return p.id == id; });
  const size_t quorum = voters.size() / 2 + 1;
  if (force || !is_voter || voters.size() - 1 >= quorum) return absl::OkStatus();
  std::vector<std::string> names;
  for (const consensus::Peer& p : voters) {
    names.push_back(absl::StrCat(p.id, " (", p.address, ")"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "removing '", std::string(id), "' would leave ", voters.size() - 1,
      " voter(s), fewer than the quorum of ", quorum, " of the current ", voters.size(),
      " voters [", absl::StrJoin(names, ", "),
      "]; the group could lose its leader for good. Add a member first, or pass --force "
      "(RemoveServerRequest.force) if this is meant"));
}

namespace {

// Whether `address` (host:port) accepts a TCP connection within `timeout`: a Raft member that
// is not listening would be a voter that never votes.
Status CheckReachable(const std::string& address, absl::Duration timeout) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat("the new member's Raft address '", address,
                                                      "' does not resolve: ", gai_strerror(rc)));
  }
  std::string error = "no address";
  bool connected = false;
  for (addrinfo* a = found; a != nullptr && !connected; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
      rc = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1 ? 0 : -1;
      int so_error = rc == 0 ? 0 : ETIMEDOUT;
      socklen_t length = sizeof(so_error);
      if (rc == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
      errno = so_error;
      rc = so_error == 0 ? 0 : -1;
    }
    if (rc == 0)
      connected = true;
    else
      error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  if (connected) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the new member's Raft address '", address, "' does not accept connections (",
                   error, "): start the member (shoal executor --stateful --raft-join ...) first"));
}

}  // namespace

void StatefulReplica::AddVoter(std::string id, std::string address,
                               absl::AnyInvocable<void(Status)> done) {
  auto task = [this, id = std::move(id), address = std::move(address),
               done = AlwaysCalled<Status>(std::move(done), &ShuttingDown)]() mutable {
    Status status;
    if (raft_->IsLeader()) status = CheckReachable(address, absl::Seconds(2));
    if (status.ok()) status = raft_->AddVoter(id, address, apply_timeout_);
    if (status.ok()) SHOAL_LOG_INFO("Raft member '%s' at %s added", id, address);
    done(LeaderHint(std::move(status)));
  };
  if (!Submit(std::move(task))) {
    SHOAL_LOG_WARNING("a membership change arrived while the replica was shutting down");
  }
}

void StatefulReplica::RemoveServer(std::string id, bool force,
                                   absl::AnyInvocable<void(Status)> done) {
  auto task = [this, id = std::move(id), force,
               done = AlwaysCalled<Status>(std::move(done), &ShuttingDown)]() mutable {
    Status status;
    if (raft_->IsLeader()) {
      const std::vector<consensus::Peer> voters = raft_->Voters();
      // The leader reads no configuration while it hands its leadership over: ask again.
      if (voters.empty()) {
        done(NotLeader());
        return;
      }
      status = CheckRemoval(voters, id, force);
      if (status.ok() && id == raft_->id() && voters.size() > 1) {
        // The leader leaving: another voter leads first and removes it as a follower (the
        // caller is told "not the leader" and asks the others). If no voter can take over
        // (one is down and was picked), the leader removes itself, as before.
        Status handed = raft_->TransferLeadership(apply_timeout_);
        if (handed.ok() || consensus::IsNotLeader(handed)) {
          SHOAL_LOG_INFO("Raft member '%s' handed its leadership over before leaving", id);
          done(NotLeader());
          return;
        }
        SHOAL_LOG_WARNING(
            "Raft member '%s' could not hand its leadership over (%s): it removes "
            "itself",
            id, handed.message());
      }
    }
    if (status.ok()) status = raft_->RemoveServer(id, apply_timeout_);
    if (status.ok()) SHOAL_LOG_INFO("Raft member '%s' removed", id);
    done(LeaderHint(std::move(status)));
  };
  if (!Submit(std::move(task))) {
    SHOAL_LOG_WARNING("a membership change arrived while the replica was shutting down");
  }
}

Status StatefulReplica::LeaderHint(Status status) const {
  return consensus::IsNotLeader(status) ? NotLeader() : status;
}

Status StatefulReplica::NotLeader() const {
  std::optional<consensus::Peer> leader = raft_->Leader();
  if (!leader.has_value()) return rpc::NotLeaderError("not the leader; no leader is known", "");
  return rpc::NotLeaderError(
      absl::StrCat("not the leader; the leader is '", leader->id, "' at ", leader->address),
      leader->address);
}

Status StatefulReplica::WaitCaughtUp(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    SHOAL_RETURN_IF_ERROR(raft_->Damaged());
    bool applied = false;
    if (raft_->IsLeader()) {
      applied = raft_->Barrier(deadline - absl::Now()).ok();
    } else if (raft_->Leader().has_value()) {
      consensus::RaftStats stats = raft_->Stats();
      applied = stats.last_contact.has_value() && stats.commit_index > 0 &&
                stats.applied_index >= stats.commit_index;
    }
    // Raft has handed every committed entry over; the Executor has run them once the tasks
    // queued before this one have.
    if (applied && ExecutorThreadReached(deadline)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("replica '", raft_->id(),
                                                  "' did not catch up with a Raft leader within ",
                                                  absl::FormatDuration(timeout)));
}

}  // namespace shoal::replica
