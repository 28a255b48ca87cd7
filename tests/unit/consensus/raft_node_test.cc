// RaftNode against the real library: three (or four) members in this process on loopback ports,
// their logs and snapshots in a temporary directory; every wait is bounded.
#include "src/consensus/raft_node.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "src/common/strings.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/consensus/raft_test_util.h"

namespace shoal::consensus {
namespace {

using ::testing::HasSubstr;

class RaftNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("raft-node-test");
    root_ = tmp_->path();
    config_ = Config({{"HeartbeatTimeout", 200},
                      {"ElectionTimeout", 200},
                      {"LeaderLeaseTimeout", 100},
                      {"CommitTimeout", 5}});
  }
  void TearDown() override {
    for (auto& node : nodes_) node.reset();
    tmp_.reset();
  }

  static google::protobuf::Struct Config(std::vector<std::pair<std::string, double>> numbers) {
    google::protobuf::Struct config;
    for (const auto& [key, value] : numbers)
      (*config.mutable_fields())[key].set_number_value(value);
    (*config.mutable_fields())["LogLevel"].set_string_value("WARN");
    return config;
  }

  RaftNode::Options OptionsFor(int i, std::string address) {
    Recorder* recorder = &recorders_[i];
    return RaftNode::Options{
        .id = absl::StrCat("n", i),
        .bind_address = std::move(address),
        .data_dir = (root_ / absl::StrCat("n", i)).string(),
        .raft_configuration = config_,
        .read_lease = read_lease_,
        .apply = [recorder](uint64_t index,
                            std::string_view data) { return recorder->Apply(index, data); },
        .snapshot = [recorder](const std::string& path) { return recorder->Snapshot(path); },
        .restore = [recorder](const std::string& path) { return recorder->Restore(path); },
    };
  }

  // Starts member i (on `address`, or a free port) without bootstrapping it.
  void StartNode(int i, std::string address = "127.0.0.1:0") {
    StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(OptionsFor(i, std::move(address)));
    ASSERT_TRUE(node.ok()) << node.status();
    nodes_[i] = std::move(node).value();
  }

  // Starts members 0..size-1 and bootstraps them as one cluster.
  void StartCluster(int size = 3) {
    std::map<std::string, std::string> peers;
    for (int i = 0; i < size; ++i) {
      ASSERT_NO_FATAL_FAILURE(StartNode(i));
      peers[nodes_[i]->id()] = nodes_[i]->address();
    }
    for (int i = 0; i < size; ++i) ASSERT_TRUE(nodes_[i]->Bootstrap(peers).ok());
  }

  // Whether the read lease of member i holds (in the leader's current term) within kWait.
  bool WaitForLease(int i) {
    return WaitFor([&] {
      std::optional<uint64_t> term = nodes_[i]->ReadLeaseTerm();
      return term.has_value() && *term == nodes_[i]->Stats().term;
    });
  }

  // The index of the single leader among the running members, once there is one.
  int WaitForLeader() {
    int leader = -1;
    WaitFor([&] {
      leader = -1;
      int leaders = 0;
      for (int i = 0; i < 4; ++i) {
        if (nodes_[i] && nodes_[i]->IsLeader()) {
          leader = i;
          ++leaders;
        }
      }
      return leaders == 1;
    });
    return leader;
  }

  // Applies "<prefix><k>" for k in [0, count) on member `leader`; returns the entries.
  std::vector<std::string> ApplyAll(int leader, const std::string& prefix, int count) {
    std::vector<std::string> applied;
    for (int k = 0; k < count; ++k) {
      const std::string data = absl::StrCat(prefix, k);
      StatusOr<ApplyResult> result = nodes_[leader]->Apply(data, kApplyTimeout);
      EXPECT_TRUE(result.ok()) << result.status();
      if (!result.ok()) break;
      EXPECT_EQ(result->response, "ok:" + data);
      applied.push_back(data);
    }
    return applied;
  }

  std::optional<testing::TempDir> tmp_;
  std::filesystem::path root_;
  google::protobuf::Struct config_;
  bool read_lease_ = false;
  Recorder recorders_[4];
  std::unique_ptr<RaftNode> nodes_[4];
};

TEST_F(RaftNodeTest, EveryMemberAppliesTheLeadersEntriesInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const std::vector<std::string> applied = ApplyAll(leader, "e", 20);
  ASSERT_EQ(applied.size(), 20u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(WaitFor([&] { return recorders_[i].entries().size() == 20; })) << "member " << i;
    EXPECT_EQ(recorders_[i].entries(), recorders_[leader].entries()) << "member " << i;
  }
  EXPECT_EQ(recorders_[leader].data(), applied);
  EXPECT_TRUE(nodes_[leader]->Barrier(kApplyTimeout).ok());
  EXPECT_TRUE(nodes_[leader]->VerifyLeader(kApplyTimeout).ok());
  const RaftStats stats = nodes_[leader]->Stats();
  EXPECT_EQ(stats.role, Role::kLeader);
  EXPECT_GE(stats.term, 1u);
  EXPECT_GE(stats.applied_index, recorders_[leader].entries().back().first);
  EXPECT_EQ(stats.last_contact, absl::ZeroDuration());
  EXPECT_FALSE(nodes_[leader]->ReadLeaseTerm().has_value()) << "no lease without the option";
}

TEST_F(RaftNodeTest, TheLeaderHoldsAReadLeaseWhileAQuorumAcknowledgesIt) {
  // Raft steps a leader without a quorum down after LeaderLeaseTimeout; the lease (9/10 of
  // HeartbeatTimeout) ends before that.
  config_ = Config({{"HeartbeatTimeout", 1000},
                    {"ElectionTimeout", 1000},
                    {"LeaderLeaseTimeout", 1000},
                    {"CommitTimeout", 5}});
  read_lease_ = true;
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(WaitForLease(leader));
  const int first = (leader + 1) % 3;
  const int second = (leader + 2) % 3;
  EXPECT_FALSE(nodes_[first]->ReadLeaseTerm().has_value());
  EXPECT_FALSE(nodes_[second]->ReadLeaseTerm().has_value());
  // One follower gone: the leader and the other still make a quorum.
  nodes_[first].reset();
  ASSERT_EQ(ApplyAll(leader, "e", 3).size(), 3u);
  EXPECT_TRUE(WaitForLease(leader));
  // Both gone: nothing was acknowledged after the second one's shutdown, so 9/10 of
  // HeartbeatTimeout (900 ms) later the lease has ended, while raft usually still counts this
  // member the leader (it steps down LeaderLeaseTimeout after the last contact, or later).
  nodes_[second].reset();
  absl::SleepFor(absl::Milliseconds(920));
  EXPECT_FALSE(nodes_[leader]->ReadLeaseTerm().has_value());
}

// After a membership change the lease counts the new configuration's voters: of four voters
// (quorum three), one removed and one stopped leaves the leader and one follower, a quorum of
// the three left (the four-voter count would say no).
TEST_F(RaftNodeTest, TheReadLeaseCountsTheVotersOfTheNewConfiguration) {
  read_lease_ = true;
  ASSERT_NO_FATAL_FAILURE(StartCluster(4));
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(WaitForLease(leader));
  const int removed = (leader + 1) % 4;
  const int stopped = (leader + 2) % 4;
  ASSERT_TRUE(nodes_[leader]->RemoveServer(nodes_[removed]->id(), kApplyTimeout).ok());
  nodes_[removed].reset();
  nodes_[stopped].reset();
  ASSERT_EQ(ApplyAll(leader, "e", 3).size(), 3u);
  EXPECT_TRUE(WaitForLease(leader));
}

// A member that may have promised, before a restart, not to vote for another leader for
// HeartbeatTimeout keeps the promise: with the lease on, or with state from an earlier start
// (its group may use the lease), raft runs only that long after start.
TEST_F(RaftNodeTest, AMemberThatMayHavePromisedTakesPartHeartbeatTimeoutAfterItStarts) {
  read_lease_ = true;
  absl::Time start = absl::Now();
  ASSERT_NO_FATAL_FAILURE(StartNode(0));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  nodes_[0].reset();
  std::filesystem::remove_all(root_ / "n0");

  read_lease_ = false;
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_GE(WaitForLeader(), 0);
  const std::string address = nodes_[1]->address();
  nodes_[1].reset();
  start = absl::Now();
  ASSERT_NO_FATAL_FAILURE(StartNode(1, address));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
}

TEST_F(RaftNodeTest, ApplyOnAFollowerIsUnavailableAndNamesTheLeader) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  ASSERT_TRUE(WaitFor([&] { return nodes_[follower]->Leader().has_value(); }));
  StatusOr<ApplyResult> result = nodes_[follower]->Apply("x", kApplyTimeout);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(AsStd(result.status().message()), HasSubstr("not the leader"));
  EXPECT_THAT(AsStd(result.status().message()), HasSubstr(nodes_[leader]->id()));
  EXPECT_THAT(AsStd(result.status().message()), HasSubstr(nodes_[leader]->address()));
  EXPECT_EQ(nodes_[follower]->VerifyLeader(kApplyTimeout).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(nodes_[follower]->Stats().role, Role::kFollower);
  EXPECT_TRUE(nodes_[follower]->Stats().last_contact.has_value());
}

TEST_F(RaftNodeTest, ANewLeaderAfterTheLeaderStopsKeepsEveryAcknowledgedEntry) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const int old_leader = WaitForLeader();
  ASSERT_GE(old_leader, 0);
  std::vector<std::string> acknowledged = ApplyAll(old_leader, "before", 10);
  ASSERT_TRUE(nodes_[old_leader]->Shutdown().ok());
  EXPECT_EQ(nodes_[old_leader]->Apply("late", kApplyTimeout).status().code(),
            absl::StatusCode::kUnavailable);
  nodes_[old_leader].reset();

  const int new_leader = WaitForLeader();
  ASSERT_GE(new_leader, 0);
  ASSERT_NE(new_leader, old_leader);
  for (const std::string& data : ApplyAll(new_leader, "after", 5)) acknowledged.push_back(data);
  const int survivor = 3 - old_leader - new_leader;
  EXPECT_TRUE(WaitFor([&] { return recorders_[survivor].data().size() == 15; }));
  EXPECT_EQ(recorders_[new_leader].data(), acknowledged);
  EXPECT_EQ(recorders_[survivor].data(), acknowledged);
}

TEST_F(RaftNodeTest, ARestartedMemberReplaysItsLog) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const std::vector<std::string> before = ApplyAll(leader, "e", 10);
  const int follower = (leader + 1) % 3;
  ASSERT_TRUE(WaitFor([&] { return recorders_[follower].data() == before; }));

  const std::string address = nodes_[follower]->address();
  nodes_[follower].reset();
  recorders_[follower].Restore("/nonexistent").IgnoreError();  // empties the state machine
  ASSERT_TRUE(recorders_[follower].data().empty());
  ASSERT_NO_FATAL_FAILURE(StartNode(follower, address));
  EXPECT_TRUE(WaitFor([&] { return recorders_[follower].data() == before; }));

  std::vector<std::string> all = before;
  for (const std::string& data : ApplyAll(leader, "more", 3)) all.push_back(data);
  EXPECT_TRUE(WaitFor([&] { return recorders_[follower].data() == all; }));
  EXPECT_EQ(recorders_[follower].entries(), recorders_[leader].entries());
}

TEST_F(RaftNodeTest, SnapshotsAreTakenAndRestoredThroughTheCallbacks) {
  config_ = Config({{"HeartbeatTimeout", 200},
                    {"ElectionTimeout", 200},
                    {"LeaderLeaseTimeout", 100},
                    {"SnapshotThreshold", 5},
                    {"TrailingLogs", 2},
                    {"SnapshotInterval", 1}});
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const std::vector<std::string> applied = ApplyAll(leader, "e", 30);
  const int follower = (leader + 1) % 3;
  ASSERT_TRUE(WaitFor([&] { return recorders_[follower].data() == applied; }));
  // Taken by the threshold within SnapshotInterval; requested here too, so the test need not wait.
  EXPECT_TRUE(nodes_[leader]->Snapshot().ok());
  EXPECT_TRUE(nodes_[follower]->Snapshot().ok());
  EXPECT_GE(recorders_[leader].snapshots(), 1);
  EXPECT_GE(nodes_[leader]->Stats().last_snapshot_index, 30u);

  // A restarted member restores its own snapshot at start, before hearing from the leader.
  const std::string address = nodes_[follower]->address();
  nodes_[follower].reset();
  recorders_[follower].Restore("/nonexistent").IgnoreError();
  const int restores = recorders_[follower].restores();
  ASSERT_NO_FATAL_FAILURE(StartNode(follower, address));
  EXPECT_EQ(recorders_[follower].restores(), restores + 1);
  EXPECT_EQ(recorders_[follower].data(), applied);

  // A new member catches up from the leader's snapshot: the early entries left the log.
  ASSERT_NO_FATAL_FAILURE(StartNode(3));
  ASSERT_TRUE(nodes_[leader]->AddVoter("n3", nodes_[3]->address(), kApplyTimeout).ok());
  EXPECT_TRUE(WaitFor([&] { return recorders_[3].data() == applied; }));
  EXPECT_GE(recorders_[3].restores(), 1);
  EXPECT_EQ(recorders_[3].entries(), recorders_[leader].entries());
  EXPECT_TRUE(nodes_[leader]->RemoveServer("n3", kApplyTimeout).ok());
}

TEST_F(RaftNodeTest, BadRaftConfigurationIsInvalidArgumentNamingTheKey) {
  config_ = Config({{"ElectionTimeot", 100}});
  StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("'ElectionTimeot'"));

  config_ = Config({});
  (*config_.mutable_fields())["ShutdownOnRemove"].set_string_value("yes");
  node = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("ShutdownOnRemove"));

  // Checked by the library: the lease may not exceed the heartbeat timeout.
  config_ = Config({{"HeartbeatTimeout", 100}, {"LeaderLeaseTimeout", 500}});
  node = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("raft_configuration"));
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("lease timeout"));
}

TEST_F(RaftNodeTest, AWildcardAddressNeedsAnAdvertisedOne) {
  StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(OptionsFor(0, "0.0.0.0:0"));
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(node.status().message(), HasSubstr("advertise"));
  RaftNode::Options bad = OptionsFor(1, "127.0.0.1:0");
  bad.advertise_address = "localhost";  // no port
  node = RaftNode::Start(std::move(bad));
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
}

// Members listening on every interface and known to each other by a DNS name, as Kubernetes
// pods are: the name is resolved whenever a peer dials.
TEST_F(RaftNodeTest, MembersAdvertisingADnsNameFormACluster) {
  std::map<std::string, std::string> peers;
  for (int i = 0; i < 3; ++i) {
    // A port free now, bound again right away by the member.
    ASSERT_NO_FATAL_FAILURE(StartNode(i));
    std::string port = nodes_[i]->address().substr(nodes_[i]->address().rfind(':') + 1);
    nodes_[i].reset();
    std::filesystem::remove_all(root_ / absl::StrCat("n", i));
    RaftNode::Options options = OptionsFor(i, "0.0.0.0:" + port);
    options.advertise_address = "localhost:" + port;
    StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(std::move(options));
    ASSERT_TRUE(node.ok()) << node.status();
    nodes_[i] = std::move(node).value();
    EXPECT_EQ(nodes_[i]->address(), "localhost:" + port);
    peers[nodes_[i]->id()] = nodes_[i]->address();
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(nodes_[i]->Bootstrap(peers).ok());
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_EQ(ApplyAll(leader, "dns", 5).size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(WaitFor([&] { return recorders_[i].entries().size() == 5; })) << "member " << i;
  }
}

}  // namespace
}  // namespace shoal::consensus
