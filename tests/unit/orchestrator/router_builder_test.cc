// A Deployment's router from its spec alone: the external replicas' addresses per shard, the
// replica sets' names and the errors that name the spec's keys. Nothing is dialled: channels
// connect lazily and nothing is sent.
#include "src/orchestrator/router_builder.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/orchestrator/remote_flow.h"

namespace shoal::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

config::DeploymentSpec External(const std::string& name) {
  config::DeploymentSpec spec;
  spec.name = name;
  spec.uses = "Echo";
  spec.external = true;
  return spec;
}

std::vector<std::string> Addresses(routing::ReplicaSet& set) {
  std::vector<std::string> out;
  for (const routing::ReplicaStats& r : set.Stats()) out.push_back(r.address);
  return out;
}

TEST(RouterBuilderTest, ExternalAddressesPerShardBecomeOneReplicaSetEach) {
  config::DeploymentSpec spec = External("idx");
  spec.shards = 2;
  spec.shard_hosts = {{"127.0.0.1:7001", "127.0.0.1:7002"}, {"grpcs://127.0.0.1:7003"}};
  StatusOr<std::vector<std::vector<routing::Address>>> replicas = ExternalReplicas(spec);
  ASSERT_TRUE(replicas.ok()) << replicas.status();
  ASSERT_EQ(replicas->size(), 2u);
  ASSERT_EQ((*replicas)[0].size(), 2u);
  EXPECT_EQ((*replicas)[0][1].name, "idx/shard-0/external-1");
  EXPECT_FALSE((*replicas)[0][1].tls);
  ASSERT_EQ((*replicas)[1].size(), 1u);
  EXPECT_EQ((*replicas)[1][0].name, "idx/shard-1/external-0");
  EXPECT_TRUE((*replicas)[1][0].tls);

  StatusOr<std::unique_ptr<routing::DeploymentRouter>> router = BuildRouter(spec, *replicas);
  ASSERT_TRUE(router.ok()) << router.status();
  EXPECT_EQ((*router)->name(), "idx");
  ASSERT_EQ((*router)->num_shards(), 2u);
  EXPECT_EQ((*router)->shard(0).name(), "idx/shard-0");
  EXPECT_THAT(Addresses((*router)->shard(0)),
              ElementsAre("grpc://127.0.0.1:7001", "grpc://127.0.0.1:7002"));
  EXPECT_THAT(Addresses((*router)->shard(1)), ElementsAre("grpcs://127.0.0.1:7003"));
}

TEST(RouterBuilderTest, OneShardIsNamedAfterTheDeployment) {
  config::DeploymentSpec spec = External("enc");
  spec.host = {"127.0.0.1"};
  spec.external_ports = {7001, 7002};
  spec.replicas = 2;
  StatusOr<std::vector<std::vector<routing::Address>>> replicas = ExternalReplicas(spec);
  ASSERT_TRUE(replicas.ok()) << replicas.status();
  ASSERT_EQ(replicas->size(), 1u);
  EXPECT_EQ((*replicas)[0][0].name, "enc/external-0");
  StatusOr<std::unique_ptr<routing::DeploymentRouter>> router = BuildRouter(spec, *replicas);
  ASSERT_TRUE(router.ok()) << router.status();
  EXPECT_EQ((*router)->shard(0).name(), "enc");
  EXPECT_EQ((*router)->shard(0).size(), 2u);
}

TEST(RouterBuilderTest, AnUnreadableCaFileNamesItsKeyAndFile) {
  config::DeploymentSpec spec = External("enc");
  spec.host = {"grpcs://127.0.0.1:7001"};
  spec.tls_ca_file = "/nonexistent/shoal-ca.pem";
  spec.origin["tls_ca_file"] = "flow.yml:7";
  StatusOr<std::vector<std::vector<routing::Address>>> replicas = ExternalReplicas(spec);
  ASSERT_FALSE(replicas.ok());
  EXPECT_EQ(replicas.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(replicas.status().message()), HasSubstr("flow.yml:7: Deployment 'enc'"));
  EXPECT_THAT(std::string(replicas.status().message()), HasSubstr("/nonexistent/shoal-ca.pem"));
}

TEST(RouterBuilderTest, AGatewayAloneRefusesAnExecutorWithoutAddresses) {
  config::FlowSpec flow;
  flow.name = "f";
  flow.host = "127.0.0.1";
  flow.protocols = {"grpc"};
  config::DeploymentSpec local;
  local.name = "enc";
  local.uses = "Echo";
  local.needs = {"gateway"};
  flow.executors.push_back(local);
  StatusOr<std::unique_ptr<RemoteFlow>> started = RemoteFlow::Start(flow, RemoteFlow::Options{});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(started.status().message()), HasSubstr("Executor 'enc'"))
      << started.status();
}

}  // namespace
}  // namespace shoal::orchestrator
