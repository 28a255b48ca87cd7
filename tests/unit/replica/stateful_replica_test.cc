// Tests of a one-member stateful replica in process: the Raft thread does not wait for the
// Executor (a write the Executor is still running does not hold up the log).
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/executor.h"
#include "src/executor/loader.h"
#include "src/replica/stateful.h"
#include "tests/testing/unused_port.h"

namespace shoal::replica {
namespace {

using testing::UnusedPort;

absl::Notification* g_entered = nullptr;
absl::Notification* g_release = nullptr;

// `/write` (a write) waits until the test releases it.
class Gate : public Executor {
 public:
  explicit Gate(const Config& with) {}
  static void Register(Endpoints<Gate>& e) { e.On("/write", &Gate::Write).Write(); }
  Status Write(DocList& docs, const Params& params) {
    g_entered->Notify();
    g_release->WaitForNotification();
    return absl::OkStatus();
  }
};
SHOAL_EXECUTOR(Gate);

TEST(StatefulReplicaTest, TheLogMovesOnWhileTheExecutorRunsAWrite) {
  absl::Notification entered;
  absl::Notification release;
  g_entered = &entered;
  g_release = &release;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("shoal_stateful_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("Gate", Params());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ReplicaRuntime runtime(std::move(loaded).value(), ReplicaRuntime::Options{.name = "g/rep-0"});
  StatefulReplica::Options options;
  options.id = "rep-0";
  options.address = "127.0.0.1:" + std::to_string(UnusedPort());
  options.bootstrap_alone = true;
  options.data_dir = (dir / "raft").string();
  options.apply_timeout = absl::Seconds(5);
  options.linearizable_reads = true;
  StatusOr<std::unique_ptr<StatefulReplica>> replica = StatefulReplica::Start(&runtime, options);
  ASSERT_TRUE(replica.ok()) << replica.status();
  ASSERT_TRUE((*replica)->WaitCaughtUp(absl::Seconds(30)).ok());

  jina::DataRequestProto request;
  request.mutable_header()->set_request_id("w1");
  request.mutable_header()->set_exec_endpoint("/write");
  absl::Notification written;
  StatusOr<WriteAnswer> answer = absl::UnknownError("no answer");
  (*replica)->Write(request.SerializeAsString(), [&](StatusOr<WriteAnswer> a) {
    answer = std::move(a);
    written.Notify();
  });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));

  // A barrier goes through the log's apply thread: it returns while the Executor still runs
  // the write (before, the apply thread waited for the Executor and the barrier timed out).
  absl::Notification confirmed;
  Status leader = absl::UnknownError("no answer");
  (*replica)->ConfirmLeader([&](Status s) {
    leader = std::move(s);
    confirmed.Notify();
  });
  ASSERT_TRUE(confirmed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(leader.ok()) << leader;
  EXPECT_FALSE(written.HasBeenNotified());

  release.Notify();
  ASSERT_TRUE(written.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(answer.ok()) << answer.status();
  jina::DataRequestProto answered;
  ASSERT_TRUE(answered.ParseFromString(answer->bytes));
  EXPECT_EQ(answered.header().request_id(), "w1");
  replica->reset();
  runtime.Post([&runtime] { runtime.Close(); });
  std::filesystem::remove_all(dir);
}

// raft_configuration keys as Jina's CLI and docs write them (snake_case) reach the Raft member
// under the library's names; an unknown key is an error naming it.
TEST(StatefulReplicaTest, SnakeCaseRaftConfigurationKeysStartTheMember) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("shoal_stateful_snake_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor("Gate", Params());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ReplicaRuntime runtime(std::move(loaded).value(), ReplicaRuntime::Options{.name = "g/rep-0"});
  StatefulReplica::Options options;
  options.id = "rep-0";
  options.address = "127.0.0.1:" + std::to_string(UnusedPort());
  options.bootstrap_alone = true;
  options.data_dir = (dir / "raft").string();
  auto& fields = *options.raft_configuration.mutable_fields();
  fields["election_timeout"].set_number_value(300);
  fields["heartbeat_timeout"].set_number_value(300);
  fields["leader_lease_timeout"].set_number_value(100);
  fields["snapshot_threshold"].set_number_value(5);
  fields["LogLevel"].set_string_value("WARN");
  StatefulReplica::Options misspelt = options;
  (*misspelt.raft_configuration.mutable_fields())["electoin_timeout"].set_number_value(300);
  StatusOr<std::unique_ptr<StatefulReplica>> bad = StatefulReplica::Start(&runtime, misspelt);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("'electoin_timeout'"));

  StatusOr<std::unique_ptr<StatefulReplica>> replica = StatefulReplica::Start(&runtime, options);
  ASSERT_TRUE(replica.ok()) << replica.status();
  EXPECT_TRUE((*replica)->WaitCaughtUp(absl::Seconds(30)).ok());
  replica->reset();
  runtime.Post([&runtime] { runtime.Close(); });
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shoal::replica
