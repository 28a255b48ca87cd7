// Mutual TLS between Raft members: members with certificates of one CA form a group; a member
// whose certificate another CA signed is refused. Certificates in testdata/ (EC P-256, valid for
// 100 years, SAN 127.0.0.1 and localhost): raft-ca signs raft-member, other-ca signs
// other-member. Members run in this process on loopback ports; every wait is bounded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/consensus/raft_node.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/consensus/raft_test_util.h"

namespace shoal::consensus {
namespace {

using ::testing::HasSubstr;

std::string TestData(const std::string& file) {
  return (std::filesystem::path(SHOAL_CONSENSUS_TESTDATA) / file).string();
}

class RaftTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("raft-tls-test");
    root_ = tmp_->path();
  }
  void TearDown() override {
    for (auto& node : nodes_) node.reset();
    tmp_.reset();
  }

  // Member i with the certificate of `who` ("raft-member" or "other-member") and CA `ca`.
  RaftNode::Options OptionsFor(int i, const std::string& who, const std::string& ca) {
    Recorder* recorder = &recorders_[i];
    google::protobuf::Struct config;
    for (const auto& [key, value] : std::map<std::string, double>{{"HeartbeatTimeout", 200},
                                                                  {"ElectionTimeout", 200},
                                                                  {"LeaderLeaseTimeout", 100},
                                                                  {"CommitTimeout", 5}}) {
      (*config.mutable_fields())[key].set_number_value(value);
    }
    (*config.mutable_fields())["LogLevel"].set_string_value("ERROR");
    return RaftNode::Options{
        .id = absl::StrCat("n", i),
        .bind_address = "127.0.0.1:0",
        .data_dir = (root_ / absl::StrCat("n", i)).string(),
        .tls_certfile = TestData(who + ".pem"),
        .tls_keyfile = TestData(who + "-key.pem"),
        .tls_cafile = TestData(ca + ".pem"),
        .raft_configuration = config,
        .apply = [recorder](uint64_t index,
                            std::string_view data) { return recorder->Apply(index, data); },
        .snapshot = [recorder](const std::string& path) { return recorder->Snapshot(path); },
        .restore = [recorder](const std::string& path) { return recorder->Restore(path); },
    };
  }

  void Start(int i, const std::string& who, const std::string& ca) {
    StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(OptionsFor(i, who, ca));
    ASSERT_TRUE(node.ok()) << node.status();
    nodes_[i] = std::move(node).value();
  }

  std::optional<testing::TempDir> tmp_;
  std::filesystem::path root_;
  Recorder recorders_[5];
  std::unique_ptr<RaftNode> nodes_[5];
};

TEST_F(RaftTlsTest, MembersOfOneCaReplicateAndAMemberOfAnotherCaIsRefused) {
  std::map<std::string, std::string> peers;
  for (int i = 0; i < 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(Start(i, "raft-member", "raft-ca"));
    peers[nodes_[i]->id()] = nodes_[i]->address();
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(nodes_[i]->Bootstrap(peers).ok());
  int leader = -1;
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < 3; ++i) {
      if (nodes_[i]->IsLeader()) leader = i;
    }
    return leader >= 0;
  }));
  for (int k = 0; k < 5; ++k) {
    StatusOr<ApplyResult> applied = nodes_[leader]->Apply(absl::StrCat("e", k), kApplyTimeout);
    ASSERT_TRUE(applied.ok()) << applied.status();
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(WaitFor([&] { return recorders_[i].data().size() == 5; })) << "member " << i;
  }

  // n3 has a certificate of another CA (and trusts that CA): added as a voter, it never gets
  // an entry. n4, with a certificate of the group's CA, added at the same time, does.
  ASSERT_NO_FATAL_FAILURE(Start(3, "other-member", "other-ca"));
  ASSERT_NO_FATAL_FAILURE(Start(4, "raft-member", "raft-ca"));
  ASSERT_TRUE(nodes_[leader]->AddVoter("n3", nodes_[3]->address(), kApplyTimeout).ok());
  ASSERT_TRUE(nodes_[leader]->AddVoter("n4", nodes_[4]->address(), kApplyTimeout).ok());
  ASSERT_TRUE(nodes_[leader]->Apply("after", kApplyTimeout).ok());
  EXPECT_TRUE(WaitFor([&] { return recorders_[4].data().size() == 6; }));
  EXPECT_TRUE(recorders_[3].data().empty());
  EXPECT_FALSE(nodes_[3]->Leader().has_value());
  EXPECT_FALSE(nodes_[3]->Stats().last_contact.has_value());
}

TEST_F(RaftTlsTest, APartialOrUnreadableTlsSettingIsInvalidArgumentNamingIt) {
  RaftNode::Options options = OptionsFor(0, "raft-member", "raft-ca");
  options.tls_cafile.clear();
  StatusOr<std::unique_ptr<RaftNode>> node = RaftNode::Start(std::move(options));
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("without tls_cafile"));

  options = OptionsFor(0, "raft-member", "raft-ca");
  options.tls_keyfile = (root_ / "missing-key.pem").string();
  node = RaftNode::Start(std::move(options));
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("tls_keyfile"));
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("missing-key.pem"));

  options = OptionsFor(0, "raft-member", "raft-ca");
  options.tls_cafile = TestData("raft-member-key.pem");  // a key, not a certificate
  node = RaftNode::Start(std::move(options));
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(AsStd(node.status().message()), HasSubstr("holds no PEM certificate"));
}

}  // namespace
}  // namespace shoal::consensus
