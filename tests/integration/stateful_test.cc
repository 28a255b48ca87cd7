// Stateful Deployments of real replica processes: writes go through a Raft log per shard, every
// replica applies them, a retried write is applied once, and writes continue after kill -9 of
// the leader.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/deployment.h"
#include "tests/integration/child_process.h"
#include "tests/testing/leader_probe.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

constexpr char kFastRaft[] =
    R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
        "CommitTimeout": 5, "LogLevel": "WARN"})";

DeploymentOptions Stateful(const std::string& name, const std::filesystem::path& workspace) {
  DeploymentOptions options;
  options.name = name;
  options.uses = "Counter";
  options.replicas = 3;
  options.stateful = true;
  options.workspace = workspace.string();
  options.raft_configuration = kFastRaft;
  options.retries = 30;  // rounds over the 3 replicas, with pauses, while a new leader is elected
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 60000;
  return options;
}

DocList Docs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text("d" + std::to_string(i));
  return docs;
}

// The count each replica reports, asked directly (reads are served by any replica).
std::vector<std::string> Counts(const Deployment& dep) {
  std::vector<std::string> counts;
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) {
    auto client = Client::Connect(address);
    if (!client.ok()) {
      counts.push_back("down");
      continue;
    }
    auto answer = client->Post("/count", DocList(), {.stream = false});
    counts.push_back(answer.ok() && answer->size() == 1 ? std::string((*answer)[0].text())
                                                        : "error");
  }
  return counts;
}

// Waits (bounded) until every replica reports `expected`.
bool Converge(const Deployment& dep, const std::string& expected) {
  for (int i = 0; i < 500; ++i) {
    std::vector<std::string> counts = Counts(dep);
    if (std::all_of(counts.begin(), counts.end(),
                    [&](const std::string& c) { return c == expected; })) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(StatefulDeploymentTest, EveryReplicaAppliesEveryWrite) {
  const testing::TempDir tmp("stateful-apply");
  std::filesystem::path workspace = tmp.path();
  Deployment dep(Stateful("counter", workspace));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  auto written = dep.Post("/index", Docs(50), {.request_size = 5, .stream = false});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(Converge(dep, "50")) << ::testing::PrintToString(Counts(dep));
}

TEST(StatefulDeploymentTest, DocsWithoutIdsGetTheSameIdsOnEveryReplica) {
  const testing::TempDir tmp("stateful-ids");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options = Stateful("noids", workspace);
  options.uses = "ExactNNIndexer";
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  DocList docs;
  for (int i = 0; i < 3; ++i) {
    Doc doc = docs.Add();
    doc.Erase("id");
    const float embedding[] = {static_cast<float>(i), 1.0f, 0.0f};
    doc.set_embedding(embedding);
  }
  auto indexed = dep.Post("/index", docs, {.stream = false});
  ASSERT_TRUE(indexed.ok()) << indexed.status();
  ASSERT_EQ(indexed->size(), 3u);
  std::set<std::string> ids;
  for (Doc doc : *indexed) ids.insert(std::string(doc.id()));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_FALSE(ids.contains(""));
  ASSERT_TRUE(Converge(dep, "3")) << ::testing::PrintToString(Counts(dep));
  // Each replica applied the entry itself: each must have given the ids the answer names.
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) {
    auto client = Client::Connect(address);
    ASSERT_TRUE(client.ok()) << client.status();
    DocList query;
    const float embedding[] = {0.0f, 1.0f, 0.0f};
    query.Add().set_embedding(embedding);
    auto answer = client->Post("/search", query, {.stream = false});
    ASSERT_TRUE(answer.ok()) << address << ": " << answer.status();
    ASSERT_EQ(answer->size(), 1u) << address;
    std::set<std::string> matched;
    for (Doc match : (*answer)[0].matches()) matched.insert(std::string(match.id()));
    EXPECT_EQ(matched, ids) << address;
  }
}

TEST(StatefulDeploymentTest, TheSameWriteDeliveredTwiceIsAppliedOnce) {
  const testing::TempDir tmp("stateful-dedup");
  std::filesystem::path workspace = tmp.path();
  Deployment dep(Stateful("dedup", workspace));
  ASSERT_TRUE(dep.Start().ok());
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id("write-once");
  request.mutable_header()->set_exec_endpoint("/index");
  DocList(request.mutable_data()->mutable_docs()).Add().set_text("x");
  // Delivered to every replica, twice: only the leader accepts, once.
  int accepted = 0;
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (int round = 0; round < 2; ++round) {
    for (const std::string& address : addresses) {
      auto stub = jina::JinaSingleDataRequestRPC::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      jina::DataRequestProto response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      grpc::Status status = stub->process_single_data(&context, request, &response);
      if (status.ok()) {
        ++accepted;
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
        EXPECT_THAT(status.error_message(), ::testing::HasSubstr("not the leader"));
      }
    }
  }
  EXPECT_EQ(accepted, 2);
  EXPECT_TRUE(Converge(dep, "1")) << ::testing::PrintToString(Counts(dep));
}

// Sends `request` to the replica that takes it (the leader; followers answer "not the leader").
grpc::Status WriteToLeader(const Deployment& dep, const jina::DataRequestProto& request,
                           jina::DataRequestProto* response) {
  grpc::Status status(grpc::StatusCode::UNAVAILABLE, "no replica");
  const std::vector<std::vector<std::string>> shards = dep.replica_addresses();
  for (const std::string& address : shards[0]) {
    auto stub = jina::JinaSingleDataRequestRPC::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    status = stub->process_single_data(&context, request, response);
    if (status.error_message().find("not the leader") == std::string::npos) return status;
  }
  return status;
}

TEST(StatefulDeploymentTest, AReusedRequestIdWithOtherDocumentsIsRefused) {
  const testing::TempDir tmp("stateful-reused-id");
  std::filesystem::path workspace = tmp.path();
  Deployment dep(Stateful("reused", workspace));
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  jina::DataRequestProto first;
  first.mutable_header()->set_request_id("shared-id");
  first.mutable_header()->set_exec_endpoint("/index");
  DocList(first.mutable_data()->mutable_docs()).Add().set_text("first caller's doc");
  jina::DataRequestProto answer;
  grpc::Status written = WriteToLeader(dep, first, &answer);
  ASSERT_TRUE(written.ok()) << written.error_message();

  // Another caller's request under the same id: refused, never the first caller's answer.
  jina::DataRequestProto other;
  *other.mutable_header() = first.header();
  DocList(other.mutable_data()->mutable_docs()).Add().set_text("second caller's doc");
  jina::DataRequestProto leaked;
  grpc::Status refused = WriteToLeader(dep, other, &leaked);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ALREADY_EXISTS) << refused.error_message();
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("'shared-id'"));
  EXPECT_EQ(leaked.data().docs().docs_size(), 0);

  // A true retry still gets the first answer, applied once.
  jina::DataRequestProto again;
  grpc::Status retried = WriteToLeader(dep, first, &again);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(again, answer))
      << again.DebugString() << "\nvs\n"
      << answer.DebugString();
  EXPECT_TRUE(Converge(dep, "1")) << ::testing::PrintToString(Counts(dep));
}

// WriteToLeader, again while no leader is known yet (a group that just started).
grpc::Status WriteOnceALeaderIsKnown(const Deployment& dep, const jina::DataRequestProto& request,
                                     jina::DataRequestProto* response) {
  grpc::Status status = WriteToLeader(dep, request, response);
  for (int i = 0; i < 100 && status.error_message().find("not the leader") != std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = WriteToLeader(dep, request, response);
  }
  return status;
}

TEST(StatefulDeploymentTest, ARequestIdRestoredFromASnapshotStillRefusesOtherDocuments) {
  const testing::TempDir tmp("stateful-restored-id");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options = Stateful("restored", workspace);
  // Snapshot after 16 entries and keep 4 behind it: after a restart the first write comes back
  // from the snapshot, not from the log.
  options.raft_configuration =
      R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
          "CommitTimeout": 5, "LogLevel": "WARN", "SnapshotThreshold": 16,
          "SnapshotInterval": 1, "TrailingLogs": 4})";
  jina::DataRequestProto first;
  first.mutable_header()->set_request_id("kept-id");
  first.mutable_header()->set_exec_endpoint("/index");
  DocList(first.mutable_data()->mutable_docs()).Add().set_text("first caller's doc");
  {
    Deployment dep(options);
    Status started = dep.Start();
    ASSERT_TRUE(started.ok()) << started;
    jina::DataRequestProto answer;
    grpc::Status written = WriteOnceALeaderIsKnown(dep, first, &answer);
    ASSERT_TRUE(written.ok()) << written.error_message();
    // One at a time: writes in flight together share log entries, and the snapshot needs 16.
    ASSERT_TRUE(
        dep.Post("/index", Docs(40), {.request_size = 1, .prefetch = 1, .stream = false}).ok());
    ASSERT_TRUE(Converge(dep, "41")) << ::testing::PrintToString(Counts(dep));
    auto snapshots = [&](int r) {
      std::error_code error;
      std::filesystem::directory_iterator it(
          workspace / "restored" / ("rep-" + std::to_string(r)) / "raft" / "snapshots", error);
      return !error && it != std::filesystem::directory_iterator();
    };
    for (int i = 0; i < 250 && !(snapshots(0) && snapshots(1) && snapshots(2)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(snapshots(0) && snapshots(1) && snapshots(2));
  }
  Deployment restarted(options);
  Status started = restarted.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(Converge(restarted, "41")) << ::testing::PrintToString(Counts(restarted));
  jina::DataRequestProto other;
  *other.mutable_header() = first.header();
  DocList(other.mutable_data()->mutable_docs()).Add().set_text("second caller's doc");
  jina::DataRequestProto leaked;
  grpc::Status refused = WriteOnceALeaderIsKnown(restarted, other, &leaked);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ALREADY_EXISTS) << refused.error_message();
  EXPECT_EQ(leaked.data().docs().docs_size(), 0);
  jina::DataRequestProto again;
  EXPECT_TRUE(WriteOnceALeaderIsKnown(restarted, first, &again).ok());
  ASSERT_TRUE(restarted.Post("/index", Docs(1), {.stream = false}).ok());
  EXPECT_TRUE(Converge(restarted, "42")) << ::testing::PrintToString(Counts(restarted));
}

TEST(StatefulDeploymentTest, LinearizableReadsSeeEveryAcknowledgedWrite) {
  const testing::TempDir tmp("stateful-linearizable");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options = Stateful("linear", workspace);
  options.read_consistency = "linearizable";
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  for (int round = 1; round <= 5; ++round) {
    ASSERT_TRUE(dep.Post("/index", Docs(3), {.stream = false}).ok());
    // No waiting: the read is served by the confirmed leader, after every committed write.
    auto count = dep.Post("/count", DocList(), {.stream = false});
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ((*count)[0].text(), std::to_string(3 * round));
  }
  // Followers refuse reads, naming the leader, over unary calls and Call streams alike; the
  // leader answers with every write.
  for (bool stream : {false, true}) {
    int refused = 0;
    const std::vector<std::string> addresses = dep.replica_addresses()[0];
    for (const std::string& address : addresses) {
      auto client = Client::Connect(address);
      ASSERT_TRUE(client.ok());
      auto answer = client->Post("/count", DocList(), {.stream = stream});
      if (!answer.ok()) {
        ++refused;
        EXPECT_THAT(answer.status().message(), ::testing::HasSubstr("not the leader"));
      } else {
        EXPECT_EQ((*answer)[0].text(), "15") << "stream " << stream;
      }
    }
    EXPECT_EQ(refused, 2) << "stream " << stream;
  }
}

TEST(StatefulDeploymentTest, ShardsAreRaftGroupsIndexAnyAndSearchAll) {
  const testing::TempDir tmp("stateful-sharded");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options = Stateful("shards", workspace);
  options.uses = "ExactNNIndexer";
  options.shards = 2;  // `/index` goes to one shard (ANY), `/search` to both (ALL)
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  DocList docs;
  for (int i = 0; i < 40; ++i) {
    Doc d = docs.Add();
    d.set_text("doc-" + std::to_string(i));
    std::vector<float> v = {static_cast<float>(i), 1.0f, 0.25f};
    d.set_embedding(v);
  }
  ASSERT_TRUE(dep.Post("/index", docs, {.request_size = 4, .stream = false}).ok());
  // Every replica of a shard holds the same docs; the two shards hold all 40 between them.
  auto all_agree = [&](std::vector<int>& per_shard) {
    per_shard.clear();
    const std::vector<std::vector<std::string>> shards = dep.replica_addresses();
    for (const std::vector<std::string>& replicas : shards) {
      std::set<std::string> counts;
      for (const std::string& address : replicas) {
        auto client = Client::Connect(address);
        auto count = client.ok() ? client->Post("/count", DocList(), {.stream = false})
                                 : StatusOr<DocList>(client.status());
        counts.insert(count.ok() && count->size() == 1 ? std::string((*count)[0].text()) : "?");
      }
      if (counts.size() != 1 || *counts.begin() == "?") return false;
      per_shard.push_back(std::stoi(*counts.begin()));
    }
    return true;
  };
  std::vector<int> per_shard;
  bool agreed = false;
  for (int i = 0; i < 500 && !agreed; ++i) {
    agreed = all_agree(per_shard) && per_shard.size() == 2 && per_shard[0] + per_shard[1] == 40;
    if (!agreed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(agreed) << ::testing::PrintToString(per_shard);
  EXPECT_GT(per_shard[0], 0);
  EXPECT_GT(per_shard[1], 0);
  DocList query;
  std::vector<float> q = {39.0f, 1.0f, 0.25f};
  query.Add().set_embedding(q);
  auto result = dep.Post("/search", query, {.parameters = *Params::FromJson(R"({"limit": 2})")});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)[0].matches().size(), 4u);  // the top 2 of each shard, merged
}

TEST(StatefulDeploymentTest, WritesContinueAfterTheLeaderIsKilled) {
  const testing::TempDir tmp("stateful-failover");
  std::filesystem::path workspace = tmp.path();
  Deployment dep(Stateful("failover", workspace));
  ASSERT_TRUE(dep.Start().ok());
  ASSERT_TRUE(dep.Post("/index", Docs(10), {.request_size = 1, .stream = false}).ok());
  // Find the leader: the replica that accepts a write sent to it alone.
  int leader = testing::FindLeader(dep.replica_addresses()[0], {.rounds = 1});
  ASSERT_GE(leader, 0);
  ASSERT_EQ(kill(dep.replica_pid(0, leader), SIGKILL), 0);
  auto written = dep.Post("/index", Docs(20), {.request_size = 1, .stream = false});
  ASSERT_TRUE(written.ok()) << written.status();
  // The killed replica is restarted, rejoins, and catches up.
  EXPECT_TRUE(Converge(dep, "30")) << ::testing::PrintToString(Counts(dep));
}

// Sends one write with `request_id` to each replica directly; returns how many accepted it (the
// leader, or none during an election).
int WriteTo(const std::vector<std::string>& addresses, const std::string& request_id) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(request_id);
  request.mutable_header()->set_exec_endpoint("/index");
  DocList(request.mutable_data()->mutable_docs()).Add().set_text(request_id);
  int accepted = 0;
  for (const std::string& address : addresses) {
    auto stub = jina::JinaSingleDataRequestRPC::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    jina::DataRequestProto response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (stub->process_single_data(&context, request, &response).ok()) ++accepted;
  }
  return accepted;
}

TEST(StatefulDeploymentTest, AWipedReplicaRejoinsThroughTheLeadersSnapshot) {
  const testing::TempDir tmp("stateful-wiped");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options = Stateful("wiped", workspace);
  // Snapshot after 16 entries and keep only 4 behind it: a wiped replica cannot be sent the
  // log from its start and needs the snapshot.
  options.raft_configuration =
      R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
          "CommitTimeout": 5, "LogLevel": "WARN", "SnapshotThreshold": 16,
          "SnapshotInterval": 1, "TrailingLogs": 4})";
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  ASSERT_EQ(WriteTo(addresses, "first-write"), 1);
  // One at a time: writes in flight together share log entries, and the snapshot needs 16.
  ASSERT_TRUE(
      dep.Post("/index", Docs(60), {.request_size = 1, .prefetch = 1, .stream = false}).ok());
  ASSERT_TRUE(Converge(dep, "61")) << ::testing::PrintToString(Counts(dep));
  // Every replica has snapshotted (SnapshotInterval is checked every 1 to 2 s).
  auto snapshots = [&](int r) {
    std::filesystem::path dir =
        workspace / "wiped" / ("rep-" + std::to_string(r)) / "raft" / "snapshots";
    std::error_code error;
    int n = 0;
    for (auto it = std::filesystem::directory_iterator(dir, error);
         !error && it != std::filesystem::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  };
  for (int i = 0; i < 250 && (snapshots(0) == 0 || snapshots(1) == 0 || snapshots(2) == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(snapshots(0) * snapshots(1) * snapshots(2), 0);
  // Wipe a replica: its whole workspace goes, then the process; the supervisor restarts it
  // empty, and it rejoins.
  const int wiped = 2;
  const int pid = dep.replica_pid(0, wiped);
  ASSERT_TRUE(testing::RemoveTree(workspace / "wiped" / "rep-2"));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(dep.Post("/index", Docs(5), {.request_size = 1, .stream = false}).ok());
  EXPECT_TRUE(Converge(dep, "66")) << ::testing::PrintToString(Counts(dep));
  EXPECT_NE(dep.replica_pid(0, wiped), pid);
  // The snapshot carried the request ids applied before it: the first write, delivered again,
  // is still applied once, on every replica.
  for (int i = 0; i < 100 && WriteTo(addresses, "first-write") != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(dep.Post("/index", Docs(1), {.stream = false}).ok());
  EXPECT_TRUE(Converge(dep, "67")) << ::testing::PrintToString(Counts(dep));
}

// Fewer than 3 replicas is allowed (as in Jina), with a warning that no failure is tolerated.
TEST(StatefulDeploymentTest, OneOrTwoReplicasWorkWithAWarning) {
  for (int replicas : {1, 2}) {
    const testing::TempDir tmp("stateful-small-" + std::to_string(replicas));
    std::filesystem::path workspace = tmp.path();
    DeploymentOptions options = Stateful("small", workspace);
    options.replicas = replicas;
    Deployment dep(options);
    ::testing::internal::CaptureStderr();
    Status started = dep.Start();
    std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(started.ok()) << started;
    EXPECT_THAT(log, ::testing::HasSubstr("tolerates no replica failure")) << replicas;
    ASSERT_TRUE(dep.Post("/index", Docs(7), {.request_size = 2, .stream = false}).ok());
    EXPECT_TRUE(Converge(dep, "7")) << ::testing::PrintToString(Counts(dep));
  }
}

// Bad stateful settings through the C++ API are errors naming the key, before any process runs.
TEST(StatefulDeploymentTest, BadStatefulSettingsAreErrorsNamingTheKey) {
  struct Case {
    std::function<void(DeploymentOptions&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](DeploymentOptions& o) { o.workspace.clear(); }, "needs a workspace"},
      {[](DeploymentOptions& o) { o.raft_configuration = R"({"HeartbeatTimeot": 100})"; },
       "HeartbeatTimeot"},
      {[](DeploymentOptions& o) { o.raft_configuration = R"({"ElectionTimeout": "soon"})"; },
       "ElectionTimeout"},
      {[](DeploymentOptions& o) { o.raft_configuration = "[1, 2]"; }, "raft_configuration"},
      {[](DeploymentOptions& o) { o.read_consistency = "strong"; }, "read_consistency"},
      {[](DeploymentOptions& o) {
         o.peer_ports = {{45001, 45002}};
       },
       "peer_ports"},
      {[](DeploymentOptions& o) {
         o.peer_ports = {{45001, 45002, 45003}, {45004, 45005, 45006}};
       },
       "peer_ports"},
      {[](DeploymentOptions& o) {
         o.peer_ports = {{45001, 45001, 45003}};
       },
       "peer_ports"},
  };
  for (const Case& c : cases) {
    const testing::TempDir tmp("stateful-bad");
    DeploymentOptions options = Stateful("bad", tmp.path());
    c.change(options);
    Deployment dep(options);
    Status started = dep.Start();
    ASSERT_FALSE(started.ok()) << c.message;
    EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument) << started;
    EXPECT_THAT(started.message(), ::testing::HasSubstr(c.message));
  }
}

// 3 -> 5 -> 3 replicas while running: the new replicas join as voters (with two of the first
// three frozen, the other three still commit), and the removed ones leave the group (with one of
// the last three frozen, the other two still are a majority).
TEST(StatefulDeploymentTest, ScalingAddsAndRemovesVoters) {
  const testing::TempDir tmp("stateful-scale");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options = Stateful("scale", workspace);
  options.timeout_send_ms = 2000;  // a frozen replica does not hold an attempt for longer
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  ASSERT_TRUE(dep.Post("/index", Docs(10), {.request_size = 2, .stream = false}).ok());

  Status scaled = dep.Scale(5);
  ASSERT_TRUE(scaled.ok()) << scaled;
  ASSERT_EQ(dep.replica_addresses()[0].size(), 5u);
  EXPECT_TRUE(Converge(dep, "10")) << ::testing::PrintToString(Counts(dep));
  std::vector<int> frozen = {dep.replica_pid(0, 0), dep.replica_pid(0, 1)};
  for (int pid : frozen) ASSERT_EQ(kill(pid, SIGSTOP), 0);
  auto written = dep.Post("/index", Docs(4), {.request_size = 2, .stream = false});
  for (int pid : frozen) kill(pid, SIGCONT);
  ASSERT_TRUE(written.ok()) << "3 of 5 voters did not commit: " << written.status();
  EXPECT_TRUE(Converge(dep, "14")) << ::testing::PrintToString(Counts(dep));

  const std::vector<int> removed = {dep.replica_pid(0, 3), dep.replica_pid(0, 4)};
  scaled = dep.Scale(3);
  ASSERT_TRUE(scaled.ok()) << scaled;
  ASSERT_EQ(dep.replica_addresses()[0].size(), 3u);
  for (int pid : removed) EXPECT_NE(kill(pid, 0), 0) << "removed replica " << pid << " still runs";
  const int stopped = dep.replica_pid(0, 2);
  ASSERT_EQ(kill(stopped, SIGSTOP), 0);
  written = dep.Post("/index", Docs(6), {.request_size = 2, .stream = false});
  kill(stopped, SIGCONT);
  ASSERT_TRUE(written.ok()) << "2 of 3 voters did not commit: " << written.status();
  EXPECT_TRUE(Converge(dep, "20")) << ::testing::PrintToString(Counts(dep));
}

// `shoal raft remove` takes a member out of a running group through any replica: the others
// go on committing without it, and it stops applying.
TEST(StatefulDeploymentTest, ShoalRaftRemoveTakesAMemberOut) {
  const testing::TempDir tmp("stateful-raft-remove");
  std::filesystem::path workspace = tmp.path();
  Deployment dep(Stateful("remove", workspace));
  ASSERT_TRUE(dep.Start().ok());
  ASSERT_TRUE(dep.Post("/index", Docs(4), {.request_size = 2, .stream = false}).ok());
  ASSERT_TRUE(Converge(dep, "4"));
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  auto removed = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "raft", "remove", "--id", "rep-2", "--via",
       addresses[0] + "," + addresses[1] + "," + addresses[2]},
      /*wait_ready=*/false);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ((*removed)->Wait(std::chrono::seconds(60)), 0) << (*removed)->Log();
  EXPECT_THAT((*removed)->Stdout(), ::testing::HasSubstr("member 'rep-2' removed"));
  ASSERT_TRUE(dep.Post("/index", Docs(6), {.request_size = 2, .stream = false}).ok());
  auto count_of = [](const std::string& address) {
    auto client = Client::Connect(address);
    auto answer = client.ok() ? client->Post("/count", DocList(), {.stream = false})
                              : StatusOr<DocList>(client.status());
    return answer.ok() && answer->size() == 1 ? std::string((*answer)[0].text()) : "?";
  };
  bool others = false;
  for (int i = 0; i < 500 && !others; ++i) {
    others = count_of(addresses[0]) == "10" && count_of(addresses[1]) == "10";
    if (!others) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(others);
  EXPECT_EQ(count_of(addresses[2]), "4");

  // Nobody to ask: a clear error, not a hang.
  auto unreachable =
      testing::ChildProcess::Start({testing::ShoalBinary(), "raft", "remove", "--id", "rep-1",
                                    "--via", "127.0.0.1:1", "--timeout", "500"},
                                   /*wait_ready=*/false);
  ASSERT_TRUE(unreachable.ok());
  EXPECT_EQ((*unreachable)->Wait(std::chrono::seconds(30)), 1);
  EXPECT_THAT((*unreachable)->Log(), ::testing::HasSubstr("no leader took it"));
}

// Removing the leader: it hands its leadership to another voter first, which then removes it as
// a follower; the others go on taking writes.
TEST(StatefulDeploymentTest, RemovingTheLeaderHandsItsLeadershipOverFirst) {
  const testing::TempDir tmp("stateful-remove-leader");
  Deployment dep(Stateful("leaderout", tmp.path()));
  ASSERT_TRUE(dep.Start().ok());
  ASSERT_TRUE(dep.Post("/index", Docs(4), {.request_size = 2, .stream = false}).ok());
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  // A follower refuses a write naming the leader; the leader takes it.
  std::string leader;
  for (int i = 0; i < 300 && leader.empty(); ++i) {
    for (const std::string& address : addresses) {
      auto client = Client::Connect(address);
      if (!client.ok()) continue;
      auto written = client->Post("/index", Docs(1), {.stream = false});
      const std::string message(written.status().message());
      const size_t at = message.find("the leader is '");
      if (at != std::string::npos) {
        leader = message.substr(at + 15, message.find('\'', at + 15) - at - 15);
        break;
      }
    }
    if (leader.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(leader.empty());
  auto removed = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "raft", "remove", "--id", leader, "--via",
       addresses[0] + "," + addresses[1] + "," + addresses[2]},
      /*wait_ready=*/false);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ((*removed)->Wait(std::chrono::seconds(60)), 0) << (*removed)->Log();
  EXPECT_THAT((*removed)->Stdout(), ::testing::HasSubstr("member '" + leader + "' removed"));
  // The two left form the group: a write through the Deployment is committed.
  EXPECT_TRUE(dep.Post("/index", Docs(2), {.stream = false, .max_attempts = 5}).ok());
}

}  // namespace
}  // namespace shoal
