// Deployments with `inprocess: true`: their replicas run inside the process that routes to them
// (here, the test's), next to Deployments of replica processes in one Flow; Executor errors,
// Call streams and stream_doc travel as they do to a replica process; what cannot run inside
// the process is refused naming the key.
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/executor.h"
#include "shoal/flow.h"
#include "tests/integration/flow_nodes.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using testing::Node;
using testing::Options;

// Writes the pid of the process it runs in into every document ("pid"), and its replica name.
class WherePid : public Executor {
 public:
  explicit WherePid(const Config& with) {}
  static void Register(Endpoints<WherePid>& e) {
    e.On(std::string(kDefaultEndpoint), &WherePid::Default);
  }
  Status Default(DocList& docs, const Params& params) {
    for (Doc doc : docs) {
      doc.SetText("pid", std::to_string(::getpid()));
      doc.SetText("in", runtime_name());
    }
    return absl::OkStatus();
  }
};
SHOAL_EXECUTOR(WherePid);

DocList Docs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text("doc-" + std::to_string(i));
  return docs;
}

DeploymentOptions InProcess(std::string name, std::string uses, int replicas = 1) {
  DeploymentOptions options = Node(std::move(name), std::move(uses));
  options.inprocess = true;
  options.replicas = replicas;
  return options;
}

class InProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { EnableInProcessExecutors(); }
};

TEST_F(InProcessTest, AFlowRunsInProcessAndProcessReplicasTogether) {
  Flow flow(Options());
  flow.Add(InProcess("inside", "WherePid", 2)).Add(Node("outside", "Echo"));
  Status started = flow.Start();
  ASSERT_TRUE(started.ok()) << started;
  for (bool stream : {false, true}) {
    DocList sent = Docs(20);
    auto docs = flow.Post("/x", sent, {.request_size = 2, .prefetch = 4, .stream = stream});
    ASSERT_TRUE(docs.ok()) << docs.status();
    ASSERT_EQ(docs->size(), 20u);
    for (const Doc& doc : *docs) {
      EXPECT_EQ(doc.GetText("pid"), std::to_string(::getpid()));  // ran in this process
      EXPECT_THAT(std::string(doc.GetText("in").value_or("")), HasSubstr("inside/rep-"));
      EXPECT_EQ(doc.GetText("served_by"), "outside/rep-0");  // then went on to the process
    }
  }
}

TEST_F(InProcessTest, AnExecutorErrorIsAnErrorAnswerAndTheReplicaServesOn) {
  Deployment dep(InProcess("fail", "Fail"));
  ASSERT_TRUE(dep.Start().ok());
  auto failed = dep.Post("/x", Docs(1),
                         {.parameters = *Params::FromJson(R"({"fail": true})"), .stream = false});
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("failed on purpose"));
  auto answered = dep.Post("/x", Docs(3), {.stream = false});
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ((*answered)[0].GetText("served_by"), "fail/rep-0");
}

TEST_F(InProcessTest, ReplicasInsideTheProcessHaveNoPidAndOnlyTheRouterChangesWhileRunning) {
  DeploymentOptions options = InProcess("enc", "Echo", 2);
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  EXPECT_EQ(dep.replica_pid(0, 0), -1);
  ASSERT_EQ(dep.replica_addresses()[0].size(), 2u);  // each still serves gRPC on 127.0.0.1
  Status scaled = dep.Scale(3);
  EXPECT_EQ(scaled.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(scaled.message(), HasSubstr("inprocess: true"));
  DeploymentOptions router_only = options;
  router_only.timeout_send_ms = 5000;  // the router's own setting: applied
  Status updated = dep.Update(router_only);
  EXPECT_TRUE(updated.ok()) << updated;
  options.uses_with = R"({"x": 1})";
  updated = dep.Update(options);
  EXPECT_EQ(updated.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(updated.message(), HasSubstr("restart it"));
  EXPECT_TRUE(dep.Post("/x", Docs(4), {.request_size = 1}).ok());
}

TEST_F(InProcessTest, StreamDocReachesAReplicaInsideTheProcess) {
  Deployment dep(InProcess("streamer", "Stream"));
  ASSERT_TRUE(dep.Start().ok());
  auto client = Client::Connect("127.0.0.1:" + std::to_string(dep.port()));
  ASSERT_TRUE(client.ok()) << client.status();
  DocList one;
  one.Add().set_text("a b c");
  std::vector<std::string> streamed;
  Status status = client->StreamDoc("/stream", one[0], [&](const Doc& doc) {
    streamed.emplace_back(doc.text());
    return true;
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(streamed.empty());
}

// timeout_send bounds an attempt on a replica inside the process as on a replica process: the
// attempt ends DEADLINE_EXCEEDED while the Executor still sleeps, and goes to the other replica.
TEST_F(InProcessTest, TimeoutSendEndsAnAttemptTheExecutorIsStillRunning) {
  DeploymentOptions options = InProcess("slow", "Sleep", 2);
  options.timeout_send_ms = 100;
  options.retries = 1;  // two attempts, one per replica
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  auto answered = dep.Post("/x", Docs(1),
                           {.parameters = *Params::FromJson(R"({"ms": 2000})"), .stream = false});
  ASSERT_FALSE(answered.ok());
  EXPECT_THAT(std::string(answered.status().message()), HasSubstr("2 attempt(s) failed"));
  EXPECT_THAT(std::string(answered.status().message()), HasSubstr("within the deadline"));
}

TEST_F(InProcessTest, WhatCannotRunInsideTheProcessIsRefusedNamingTheKey) {
  DeploymentOptions stateful = InProcess("st", "Echo");
  stateful.stateful = true;
  stateful.workspace = ::testing::TempDir();
  Status started = Deployment(stateful).Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(started.message(), HasSubstr("inprocess"));
  EXPECT_THAT(started.message(), HasSubstr("stateful"));

  DeploymentOptions with_env = InProcess("env", "Echo");
  with_env.env = {{"X", "1"}};
  started = Deployment(with_env).Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(started.message(), HasSubstr("env"));

  started = Deployment(InProcess("missing", "NoSuchExecutor")).Start();
  EXPECT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("missing/rep-0"));
}

}  // namespace
}  // namespace shoal
