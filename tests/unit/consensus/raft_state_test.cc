// RaftNode's state on disk: a folder in use, damaged raft.db files, damaged log entries, moving
// damaged state aside, and bootstrapping only a group that is new. Members run in this process
// on loopback ports; every wait is bounded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "src/consensus/raft_node.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/consensus/raft_test_util.h"

namespace shoal::consensus {
namespace {

using ::testing::HasSubstr;

class RaftStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("raft-state-test");
    root_ = tmp_->path();
  }
  void TearDown() override {
    for (auto& node : nodes_) node.reset();
    tmp_.reset();
  }

  std::filesystem::path Dir(int i) const { return root_ / absl::StrCat("n", i); }

  RaftNode::Options OptionsFor(int i, std::string address) {
    Recorder* recorder = &recorders_[i];
    google::protobuf::Struct config;
    for (const auto& [key, value] : std::map<std::string, double>{{"HeartbeatTimeout", 200},
                                                                  {"ElectionTimeout", 200},
                                                                  {"LeaderLeaseTimeout", 100},
                                                                  {"CommitTimeout", 5}}) {
      (*config.mutable_fields())[key].set_number_value(value);
    }
    (*config.mutable_fields())["LogLevel"].set_string_value("WARN");
    return RaftNode::Options{
        .id = absl::StrCat("n", i),
        .bind_address = std::move(address),
        .data_dir = Dir(i).string(),
        .raft_configuration = config,
        .apply = [recorder](uint64_t index,
                            std::string_view data) { return recorder->Apply(index, data); },
        .snapshot = [recorder](const std::string& path) { return recorder->Snapshot(path); },
        .restore = [recorder](const std::string& path) { return recorder->Restore(path); },
    };
  }

  // Picks `count` free loopback ports for members that bootstrap with fixed addresses. The
  // probes hold their ports until all are picked: a port freed at once could be picked again
  // (two members on one address: "duplicate address in configuration").
  void PickAddresses(int count) {
    std::vector<std::unique_ptr<RaftNode>> probes;
    for (int i = 0; i < count; ++i) {
      StatusOr<std::unique_ptr<RaftNode>> probe = RaftNode::Start(OptionsFor(i, "127.0.0.1:0"));
      ASSERT_TRUE(probe.ok()) << probe.status();
      peers_[absl::StrCat("n", i)] = (*probe)->address();
      probes.push_back(std::move(probe).value());
    }
    probes.clear();
    for (int i = 0; i < count; ++i) std::filesystem::remove_all(Dir(i));
  }

  // Starts member i with the peer list (it bootstraps, joins or waits as RaftNode decides).
  StatusOr<std::unique_ptr<RaftNode>> StartMember(int i, absl::Duration wait = absl::Seconds(20)) {
    RaftNode::Options options = OptionsFor(i, peers_[absl::StrCat("n", i)]);
    options.peers = peers_;
    options.bootstrap_wait = wait;
    return RaftNode::Start(std::move(options));
  }

  // Starts these members at once (each may wait for the others); fails the test on an error.
  void StartAll(const std::vector<int>& members) {
    std::vector<StatusOr<std::unique_ptr<RaftNode>>> started;
    for (size_t k = 0; k < members.size(); ++k) started.emplace_back(absl::UnknownError("none"));
    std::vector<std::thread> starters;
    for (size_t k = 0; k < members.size(); ++k) {
      starters.emplace_back([&, k] { started[k] = StartMember(members[k]); });
    }
    for (std::thread& starter : starters) starter.join();
    for (size_t k = 0; k < members.size(); ++k) {
      ASSERT_TRUE(started[k].ok()) << started[k].status();
      nodes_[members[k]] = std::move(started[k]).value();
    }
  }

  int WaitForLeader(int count) {
    int leader = -1;
    WaitFor([&] {
      leader = -1;
      for (int i = 0; i < count; ++i) {
        if (nodes_[i] && nodes_[i]->IsLeader()) leader = i;
      }
      return leader >= 0;
    });
    return leader;
  }

  std::vector<std::string> ApplyAll(int leader, const std::string& prefix, int count) {
    std::vector<std::string> applied;
    for (int k = 0; k < count; ++k) {
      const std::string data = absl::StrCat(prefix, k);
      StatusOr<ApplyResult> result = nodes_[leader]->Apply(data, kApplyTimeout);
      EXPECT_TRUE(result.ok()) << result.status();
      if (!result.ok()) break;
      applied.push_back(data);
    }
    return applied;
  }

  // A group of one (member 0) holding `entries`, then shut down.
  std::vector<std::string> WriteAlone(const std::vector<std::string>& entries) {
    StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
    EXPECT_TRUE(node.ok()) << node.status();
    if (!node.ok()) return {};
    nodes_[0] = std::move(node).value();
    EXPECT_TRUE(nodes_[0]->Bootstrap({{"n0", nodes_[0]->address()}}).ok());
    EXPECT_TRUE(WaitFor([&] { return nodes_[0]->IsLeader(); }));
    std::vector<std::string> applied;
    for (const std::string& data : entries) {
      StatusOr<ApplyResult> result = nodes_[0]->Apply(data, kApplyTimeout);
      EXPECT_TRUE(result.ok()) << result.status();
      if (result.ok()) applied.push_back(data);
    }
    nodes_[0].reset();
    recorders_[0].Restore("/nonexistent").IgnoreError();  // empties the state machine
    return applied;
  }

  std::optional<testing::TempDir> tmp_;
  std::filesystem::path root_;
  std::map<std::string, std::string> peers_;
  Recorder recorders_[3];
  std::unique_ptr<RaftNode> nodes_[3];
};

TEST_F(RaftStateTest, AFolderInUseFailsAtOnceNamingTheProcessAndTheFolder) {
  StatusOr<std::unique_ptr<RaftNode>> first = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
  ASSERT_TRUE(first.ok()) << first.status();
  // The second start must not wait for the first to let go: bounded here, and the first is shut
  // down after the bound so that a blocked start returns.
  std::atomic<bool> returned{false};
  StatusOr<std::unique_ptr<RaftNode>> second = absl::UnknownError("not started");
  std::thread starter([&] {
    second = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
    returned = true;
  });
  const bool in_time = WaitFor([&] { return returned.load(); });
  first->reset();
  starter.join();
  EXPECT_TRUE(in_time) << "the second start waited for the folder's lock";
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(AsStd(second.status().message()), HasSubstr(absl::StrCat("pid ", getpid())));
  EXPECT_THAT(AsStd(second.status().message()), HasSubstr(Dir(0).string()));
  EXPECT_EQ(RaftNode::ResetState(Dir(0).string()).status().code(),
            absl::StatusCode::kOk);  // no longer in use
}

TEST_F(RaftStateTest, ATruncatedLogFailsWithDataLossNamingTheFile) {
  std::vector<std::string> entries;
  for (int k = 0; k < 40; ++k) entries.push_back(absl::StrCat("entry-", k, std::string(2000, 'x')));
  ASSERT_EQ(WriteAlone(entries).size(), entries.size());
  const std::filesystem::path db = Dir(0) / "raft.db";
  const uintmax_t size = std::filesystem::file_size(db);
  ASSERT_GT(size, 3u * 4096);
  for (uintmax_t cut : {uintmax_t{3 * 4096}, uintmax_t{5000}}) {
    SCOPED_TRACE(absl::StrCat("truncated to ", cut, " of ", size, " bytes"));
    std::filesystem::resize_file(db, cut);
    StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
    ASSERT_FALSE(node.ok());
    EXPECT_EQ(node.status().code(), absl::StatusCode::kDataLoss) << node.status();
    EXPECT_THAT(AsStd(node.status().message()), HasSubstr(db.string()));
    EXPECT_THAT(AsStd(node.status().message()), HasSubstr("truncated"));
    EXPECT_THAT(AsStd(node.status().message()), HasSubstr("reset-state"));
  }
  // Reset: the damaged file is moved aside, never deleted, and the member starts empty.
  StatusOr<std::vector<std::string>> moved = RaftNode::ResetState(Dir(0).string());
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_FALSE(moved->empty());
  EXPECT_THAT(moved->front(), HasSubstr("raft.db.corrupt-"));
  EXPECT_TRUE(std::filesystem::exists(moved->front()));
  EXPECT_FALSE(std::filesystem::exists(db));
  StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(OptionsFor(0, "127.0.0.1:0"));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)->Stats().last_log_index, 0u);
}

TEST_F(RaftStateTest, ALogEntryWithAFlippedByteIsNeverApplied) {
  const std::string marker = "unique-marker-7f3a9c";
  const std::vector<std::string> entries = {"before-0", "before-1", marker, "after-0"};
  ASSERT_EQ(WriteAlone(entries).size(), entries.size());
  // Flip one byte of the marker wherever raft.db holds it.
  const std::filesystem::path db = Dir(0) / "raft.db";
  std::string bytes;
  {
    std::ifstream in(db, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  int flipped = 0;
  for (size_t at = bytes.find(marker); at != std::string::npos; at = bytes.find(marker, at + 1)) {
    bytes[at + 3] ^= 0x01;
    ++flipped;
  }
  ASSERT_GT(flipped, 0);
  {
    std::ofstream out(db, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::atomic<int> damaged_calls{0};
  RaftNode::Options options = OptionsFor(0, "127.0.0.1:0");
  options.on_damaged = [&damaged_calls](std::string_view) { ++damaged_calls; };
  StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(std::move(options));
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE(WaitFor([&] { return !(*node)->Damaged().ok(); }));
  const Status damaged = (*node)->Damaged();
  EXPECT_EQ(damaged.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(AsStd(damaged.message()), HasSubstr("reset-state"));
  EXPECT_EQ(damaged_calls.load(), 1);
  // The entries before it were applied; neither it nor any later one.
  ASSERT_EQ(recorders_[0].data(), (std::vector<std::string>{"before-0", "before-1"}));
  const uint64_t marker_index = recorders_[0].entries().back().first + 1;
  EXPECT_THAT(AsStd(damaged.message()), HasSubstr(absl::StrCat("entry ", marker_index, " ")));
}

// Two of three members lose their state (their folders are wiped). Started again with the same
// peers, they must not bootstrap a new, empty group while the third is away, and they must take
// the third's log once it is back.
TEST_F(RaftStateTest, MembersWithoutStateJoinTheMemberWithStateInsteadOfBootstrapping) {
  ASSERT_NO_FATAL_FAILURE(PickAddresses(3));
  ASSERT_NO_FATAL_FAILURE(StartAll({0, 1, 2}));
  int leader = WaitForLeader(3);
  ASSERT_GE(leader, 0);
  const std::vector<std::string> written = ApplyAll(leader, "kept-", 10);
  ASSERT_EQ(written.size(), 10u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitFor([&] { return recorders_[i].data() == written; }));
  for (auto& node : nodes_) node.reset();
  for (int i : {0, 2}) {
    std::filesystem::remove_all(Dir(i));
    recorders_[i].Restore("/nonexistent").IgnoreError();
  }
  recorders_[1].Restore("/nonexistent").IgnoreError();

  // The wiped members start first; member 1 (with the state) is still down.
  StatusOr<std::unique_ptr<RaftNode>> wiped[2] = {absl::UnknownError("not started"),
                                                  absl::UnknownError("not started")};
  std::atomic<int> returned{0};
  std::vector<std::thread> starters;
  for (int k = 0; k < 2; ++k) {
    starters.emplace_back([&, k] {
      wiped[k] = StartMember(k == 0 ? 0 : 2);
      ++returned;
    });
  }
  // While member 1 is away they cannot tell whether the group is new: neither may bootstrap.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(returned.load(), 0) << "a wiped member started (bootstrapped) without member 1";
  StatusOr<std::unique_ptr<RaftNode>> intact = StartMember(1);
  for (std::thread& starter : starters) starter.join();
  ASSERT_TRUE(intact.ok()) << intact.status();
  nodes_[1] = std::move(intact).value();
  for (int k = 0; k < 2; ++k) {
    ASSERT_TRUE(wiped[k].ok()) << wiped[k].status();
    nodes_[k == 0 ? 0 : 2] = std::move(wiped[k]).value();
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(WaitFor([&] { return recorders_[i].data() == written; })) << "member " << i;
  }
  leader = WaitForLeader(3);
  ASSERT_GE(leader, 0);
  EXPECT_EQ(ApplyAll(leader, "more-", 2).size(), 2u);
}

// A member without state whose peers do not answer gives up with an error that names them.
TEST_F(RaftStateTest, AMemberWithoutStateWhosePeersDoNotAnswerRefusesToBootstrap) {
  ASSERT_NO_FATAL_FAILURE(PickAddresses(3));
  StatusOr<std::unique_ptr<RaftNode>> node = StartMember(0, absl::Seconds(1));
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kFailedPrecondition) << node.status();
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("n1 (" + peers_["n1"] + ")"));
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("did not answer"));
}

}  // namespace
}  // namespace shoal::consensus
