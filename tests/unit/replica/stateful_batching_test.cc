// Tests of a one-member stateful replica in process: entries of the log format before group
// commit still apply after an upgrade, concurrent writes each get their own answer and are
// applied once, and concurrent linearizable reads are confirmed.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "shoal/executor.h"
#include "src/consensus/raft_node.h"
#include "src/executor/loader.h"
#include "src/replica/log_entry.h"
#include "src/replica/stateful.h"
#include "tests/testing/unused_port.h"

namespace shoal::replica {
namespace {

using testing::UnusedPort;

constexpr absl::Duration kWait = absl::Seconds(30);

absl::Mutex g_mu;
std::map<std::string, int>* g_applied = nullptr;  // request id -> times the Executor ran it

// `/write` (a write) counts the requests it runs, by their number of documents. A request of
// kSlowDocs documents takes a while, as a real write can.
constexpr int kSlowDocs = 6;
class Tally : public Executor {
 public:
  explicit Tally(const Config& with) {}
  static void Register(Endpoints<Tally>& e) { e.On("/write", &Tally::Write).Write(); }
  Status Write(DocList& docs, const Params& params) {
    if (docs.size() == kSlowDocs) absl::SleepFor(absl::Milliseconds(300));
    absl::MutexLock lock(&g_mu);
    ++(*g_applied)[std::to_string(docs.size())];
    return absl::OkStatus();
  }
};
SHOAL_EXECUTOR(Tally);

// A /write request with `docs` documents (the Executor tallies requests by their doc count).
std::string WriteRequest(const std::string& id, int docs) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(id);
  request.mutable_header()->set_exec_endpoint("/write");
  for (int i = 0; i < docs; ++i) {
    (*request.mutable_data()->mutable_docs()->add_docs()->mutable_data())["id"].set_text(
        id + "-" + std::to_string(i));
  }
  return request.SerializeAsString();
}

class StatefulBatchingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("shoal_stateful_batching_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    address_ = "127.0.0.1:" + std::to_string(UnusedPort());
    g_applied = &applied_;
    StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("Tally", Params());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    runtime_ = std::make_unique<ReplicaRuntime>(std::move(loaded).value(),
                                                ReplicaRuntime::Options{.name = "t/rep-0"});
  }
  void TearDown() override {
    replica_.reset();
    runtime_->Post([runtime = runtime_.get()] { runtime->Close(); });
    runtime_.reset();
    g_applied = nullptr;
    std::filesystem::remove_all(dir_);
  }

  void StartReplica() {
    StatefulReplica::Options options;
    options.id = "rep-0";
    options.address = address_;
    options.bootstrap_alone = true;
    options.data_dir = (dir_ / "raft").string();
    options.apply_timeout = absl::Seconds(10);
    options.linearizable_reads = true;
    StatusOr<std::unique_ptr<StatefulReplica>> replica =
        StatefulReplica::Start(runtime_.get(), options);
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = std::move(replica).value();
    ASSERT_TRUE(replica_->WaitCaughtUp(kWait).ok());
  }

  int Applied(int docs) {
    absl::MutexLock lock(&g_mu);
    return applied_[std::to_string(docs)];
  }

  std::filesystem::path dir_;
  std::string address_;
  std::map<std::string, int> applied_;
  std::unique_ptr<ReplicaRuntime> runtime_;
  std::unique_ptr<StatefulReplica> replica_;
};

// A log written before group commit (each entry one request's bytes) applies after an upgrade,
// next to a batch entry; a request repeated in a batch is applied once; a damaged batch is not
// applied at all.
TEST_F(StatefulBatchingTest, EntriesOfTheOldAndTheNewFormatApplyAfterAnUpgrade) {
  {
    consensus::RaftNode::Options raft{
        .id = "rep-0",
        .bind_address = address_,
        .data_dir = (dir_ / "raft").string(),
        .apply = [](uint64_t, std::string_view) { return std::string(); },
        .snapshot = [](const std::string&) { return absl::OkStatus(); },
        .restore = [](const std::string&) { return absl::OkStatus(); },
    };
    (*raft.raft_configuration.mutable_fields())["LogLevel"].set_string_value("WARN");
    StatusOr<std::unique_ptr<consensus::RaftNode>> node =
        consensus::RaftNode::Start(std::move(raft));
    ASSERT_TRUE(node.ok()) << node.status();
    ASSERT_TRUE((*node)->Bootstrap({{"rep-0", (*node)->address()}}).ok());
    for (int tries = 0; tries < 1500 && !(*node)->IsLeader(); ++tries) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_TRUE((*node)->IsLeader());
    // The old format: the request's bytes alone.
    ASSERT_TRUE((*node)->Apply(WriteRequest("old", 1), absl::Seconds(10)).ok());
    // The new format: two requests, the second a retry of the first.
    const std::string twice = WriteRequest("new", 2);
    ASSERT_TRUE((*node)->Apply(EncodeLogEntry({twice, twice}), absl::Seconds(10)).ok());
    // A batch entry cut short (its checksum is right: written so) is skipped, as an entry that
    // is no request was before; the entries after it apply.
    const std::string batch = EncodeLogEntry({WriteRequest("cut", 5), WriteRequest("cut2", 5)});
    ASSERT_TRUE((*node)->Apply(batch.substr(0, batch.size() - 3), absl::Seconds(10)).ok());
    ASSERT_TRUE((*node)->Apply(WriteRequest("after", kSlowDocs), absl::Seconds(10)).ok());
    ASSERT_TRUE((*node)->Shutdown().ok());
  }
  // Caught up means the Executor has run every committed entry, the slow last one too.
  ASSERT_NO_FATAL_FAILURE(StartReplica());
  EXPECT_EQ(Applied(1), 1);
  EXPECT_EQ(Applied(2), 1);
  EXPECT_EQ(Applied(5), 0);
  EXPECT_EQ(Applied(kSlowDocs), 1);
  // The retried id is remembered: the same request again is answered, not applied.
  absl::Notification done;
  StatusOr<WriteAnswer> answer = absl::UnknownError("no answer");
  replica_->Write(WriteRequest("new", 2), [&](StatusOr<WriteAnswer> a) {
    answer = std::move(a);
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(Applied(2), 1);
}

// Writes sent together: each answered with its own answer, each applied once (a retry within
// them too), in no more log entries than writes.
TEST_F(StatefulBatchingTest, ConcurrentWritesAreEachAnsweredAndAppliedOnce) {
  ASSERT_NO_FATAL_FAILURE(StartReplica());
  const uint64_t first_index = replica_->Stats().last_log_index;
  constexpr int kWrites = 24;
  absl::Mutex mu;
  std::vector<StatusOr<WriteAnswer>> answers(kWrites + 2, absl::UnknownError("no answer"));
  int answered = 0;
  auto send = [&](int slot, std::string request) {
    replica_->Write(std::move(request), [&, slot](StatusOr<WriteAnswer> a) {
      absl::MutexLock lock(&mu);
      answers[slot] = std::move(a);
      ++answered;
    });
  };
  for (int i = 0; i < kWrites; ++i) send(i, WriteRequest("w" + std::to_string(i), 3));
  send(kWrites, WriteRequest("w0", 3));      // a retry: the first answer again
  send(kWrites + 1, WriteRequest("w1", 4));  // another request under a used id: refused
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == kWrites + 2; }, &answered),
                                    kWait));
  }
  for (int i = 0; i <= kWrites; ++i) {
    ASSERT_TRUE(answers[i].ok()) << i << ": " << answers[i].status();
    jina::DataRequestProto answer;
    ASSERT_TRUE(answer.ParseFromString(answers[i]->bytes));
    EXPECT_EQ(answer.header().request_id(), "w" + std::to_string(i % kWrites));
    EXPECT_EQ(answer.data().docs().docs_size(), 3);
    EXPECT_FALSE(answers[i]->executor_failed);
  }
  EXPECT_EQ(answers[kWrites + 1].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Applied(3), kWrites);
  EXPECT_EQ(Applied(4), 0);
  EXPECT_LE(replica_->Stats().last_log_index - first_index, uint64_t{kWrites + 2});
  EXPECT_GE(replica_->write_batches(), 1u);
}

TEST_F(StatefulBatchingTest, ConcurrentLinearizableReadsAreConfirmed) {
  ASSERT_NO_FATAL_FAILURE(StartReplica());
  constexpr int kReads = 32;
  absl::Mutex mu;
  int confirmed = 0;
  for (int i = 0; i < kReads; ++i) {
    replica_->ConfirmLeader([&](Status status) {
      EXPECT_TRUE(status.ok()) << status;
      absl::MutexLock lock(&mu);
      ++confirmed;
    });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == kReads; }, &confirmed),
                                    kWait));
  }
  EXPECT_GE(replica_->leader_checks(), 1u);
  EXPECT_LE(replica_->leader_checks(), uint64_t{kReads});
}

// The first linearizable read of a term confirms the leadership and runs the term's barrier;
// after it, reads run under the leader's read lease (a group of one: the leader is a quorum).
TEST_F(StatefulBatchingTest, LinearizableReadsRunUnderTheReadLeaseOnceTheTermsBarrierRan) {
  ASSERT_NO_FATAL_FAILURE(StartReplica());
  EXPECT_FALSE(replica_->ReadLeaseHolds()) << "the term's barrier has not run yet";
  absl::Notification confirmed;
  replica_->ConfirmLeader([&](Status status) {
    EXPECT_TRUE(status.ok()) << status;
    confirmed.Notify();
  });
  ASSERT_TRUE(confirmed.WaitForNotificationWithTimeout(kWait));
  const uint64_t rounds = replica_->leader_checks();
  EXPECT_TRUE(replica_->ReadLeaseHolds());
  EXPECT_TRUE(replica_->ReadLeaseHolds());
  EXPECT_EQ(replica_->lease_reads(), 2u);
  EXPECT_EQ(replica_->leader_checks(), rounds);
}

}  // namespace
}  // namespace shoal::replica
