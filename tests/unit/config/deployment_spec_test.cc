// Tests of DeploymentSpec validation as the C++ API and the CLI use it (no YAML): the rules, the
// external address lists of Jina's §7.1, and the raft_configuration key spellings.
#include "src/config/deployment_spec.h"

#include <stdlib.h>

#include <map>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace shoal::config {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

using ::shoal::testing::Message;

TEST(DeploymentSpecTest, DefaultSpecIsValid) {
  EXPECT_TRUE(ValidateDeploymentSpec(DeploymentSpec()).ok());
}

TEST(DeploymentSpecTest, ErrorsWithoutOriginNameTheKey) {
  DeploymentSpec spec;
  spec.replicas = 0;
  EXPECT_EQ(Message(ValidateDeploymentSpec(spec)), "replicas: must be at least 1 (got 0)");
  spec.origin["replicas"] = "dep.yml:4:11";
  EXPECT_EQ(Message(ValidateDeploymentSpec(spec)),
            "dep.yml:4:11: replicas: must be at least 1 (got 0)");
}

TEST(DeploymentSpecTest, ScalarRanges) {
  DeploymentSpec spec;
  spec.timeout_ready_ms = -2;
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("timeout_ready:"));
  spec = DeploymentSpec();
  spec.retries = -2;
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("retries:"));
  spec = DeploymentSpec();
  spec.port = 0;
  EXPECT_TRUE(ValidateDeploymentSpec(spec).ok());
  spec.port = 65536;
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("port:"));
  spec = DeploymentSpec();
  spec.polling["/x"] = "some";
  EXPECT_EQ(Message(ValidateDeploymentSpec(spec)), "polling./x: expected ANY or ALL, got 'some'");
  spec = DeploymentSpec();
  spec.grpc_metadata["Authorization"] = "x";
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("grpc_metadata.Authorization:"));
  spec = DeploymentSpec();
  spec.host = {"a", "b"};
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("need external: true"));
}

TEST(DeploymentSpecTest, ReplicaProcessesAreLimited) {
  DeploymentSpec spec;
  spec.name = "big";
  spec.replicas = 100000;
  spec.origin["replicas"] = "dep.yml:3:11";
  spec.origin["shards"] = "dep.yml:4:9";
  EXPECT_EQ(Message(CheckReplicaLimit(spec, kDefaultMaxReplicas)),
            "dep.yml:3:11: replicas: Deployment 'big': 100000 replicas x 1 shards = 100000 "
            "replica processes, more than max_replicas (256 per Deployment; --max-replicas "
            "raises it)");
  EXPECT_EQ(CheckReplicaLimit(spec, kDefaultMaxReplicas).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckReplicaLimit(spec, 100000).ok());

  spec.replicas = 1;
  spec.shards = 100000;
  EXPECT_THAT(Message(CheckReplicaLimit(spec, kDefaultMaxReplicas)),
              HasSubstr("dep.yml:4:9: shards: Deployment 'big': 1 replicas x 100000 shards"));
  // Each below the limit, their product above it.
  spec.replicas = 20;
  spec.shards = 20;
  EXPECT_THAT(Message(CheckReplicaLimit(spec, kDefaultMaxReplicas)),
              HasSubstr("20 replicas x 20 shards = 400 replica processes, more than max_replicas"));
  spec.replicas = 16;
  spec.shards = 16;
  EXPECT_TRUE(CheckReplicaLimit(spec, kDefaultMaxReplicas).ok());
  // An external Deployment starts nothing.
  spec.external = true;
  spec.replicas = 100000;
  EXPECT_TRUE(CheckReplicaLimit(spec, kDefaultMaxReplicas).ok());
}

TEST(DeploymentSpecTest, ExternalOneHostManyPorts) {
  DeploymentSpec spec;
  spec.external = true;
  spec.host = {"grpcs://h"};
  spec.external_ports = {1, 2, 3};
  absl::StatusOr<std::vector<ExternalAddress>> addresses = ResolveExternalAddresses(spec);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_THAT(*addresses, SizeIs(3));
  EXPECT_EQ((*addresses)[2].Target(), "h:3");
  EXPECT_TRUE((*addresses)[2].tls);
  EXPECT_TRUE(ValidateDeploymentSpec(spec).ok());
}

TEST(DeploymentSpecTest, ExternalManyHostsOnePortAndInlineOverride) {
  DeploymentSpec spec;
  spec.external = true;
  spec.host = {"a", "b:9", "[::1]", "grpc://[::1]:7"};
  spec.port = 5;
  absl::StatusOr<std::vector<ExternalAddress>> addresses = ResolveExternalAddresses(spec);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_THAT(*addresses, SizeIs(4));
  EXPECT_EQ((*addresses)[0].Target(), "a:5");
  EXPECT_EQ((*addresses)[1].Target(), "b:9");
  EXPECT_EQ((*addresses)[2].Target(), "[::1]:5");
  EXPECT_EQ((*addresses)[3].Target(), "[::1]:7");
  EXPECT_FALSE((*addresses)[3].tls);
}

TEST(DeploymentSpecTest, ExternalErrors) {
  DeploymentSpec spec;
  spec.external = true;
  spec.host = {"a:1", "b:x"};
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("'b:x' has an invalid port"));
  spec.host = {"a:1"};
  spec.shards = 2;
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("shards:"));
  spec.shards = 1;
  spec.stateful = true;
  spec.workspace = "/ws";
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)),
              HasSubstr("stateful: cannot be combined with external: true"));
}

TEST(DeploymentSpecTest, StatefulShardsNeedPeerPortsPerShard) {
  DeploymentSpec spec;
  spec.stateful = true;
  spec.workspace = "/ws";
  spec.replicas = 2;
  spec.shards = 2;
  EXPECT_TRUE(ValidateDeploymentSpec(spec).ok());  // random ports
  spec.peer_ports = {{1, 2}, {3, 4}};
  EXPECT_TRUE(ValidateDeploymentSpec(spec).ok());
  spec.peer_ports = {{1, 2}, {3}};
  EXPECT_EQ(Message(ValidateDeploymentSpec(spec)),
            "peer_ports[1]: needs one port per replica (replicas: 2), got 1");
  spec.peer_ports = {{1, 2}, {3, 0}};
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)), HasSubstr("peer_ports[1]: must be between"));
}

TEST(DeploymentSpecTest, CanonicalRaftKey) {
  EXPECT_EQ(CanonicalRaftKey("snapshot_interval"), "SnapshotInterval");
  EXPECT_EQ(CanonicalRaftKey("SNAPSHOT_INTERVAL"), "SnapshotInterval");
  EXPECT_EQ(CanonicalRaftKey("LogLevel"), "LogLevel");
  EXPECT_EQ(CanonicalRaftKey("batch_apply_ch"), "BatchApplyCh");
  EXPECT_EQ(CanonicalRaftKey("no_snapshot_restore_on_start"), "NoSnapshotRestoreOnStart");
  EXPECT_EQ(CanonicalRaftKey("loglevel"), std::nullopt);  // as in Jina: no underscore, no change
  EXPECT_EQ(CanonicalRaftKey("Heartbeat"), std::nullopt);
}

TEST(DeploymentSpecTest, CanonicalRaftConfigurationRenamesSnakeCaseKeys) {
  google::protobuf::Struct config;
  (*config.mutable_fields())["election_timeout"].set_number_value(300);
  (*config.mutable_fields())["snapshot_threshold"].set_number_value(5);
  (*config.mutable_fields())["LogLevel"].set_string_value("INFO");
  StatusOr<google::protobuf::Struct> canonical = CanonicalRaftConfiguration(config);
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  ASSERT_EQ(canonical->fields().size(), 3u);
  EXPECT_EQ(canonical->fields().at("ElectionTimeout").number_value(), 300);
  EXPECT_EQ(canonical->fields().at("SnapshotThreshold").number_value(), 5);
  EXPECT_EQ(canonical->fields().at("LogLevel").string_value(), "INFO");

  (*config.mutable_fields())["electoin_timeout"].set_number_value(1);
  EXPECT_THAT(Message(CanonicalRaftConfiguration(config).status()),
              HasSubstr("unknown key 'electoin_timeout'"));
  config.mutable_fields()->erase("electoin_timeout");
  (*config.mutable_fields())["ElectionTimeout"].set_number_value(1);
  EXPECT_THAT(Message(CanonicalRaftConfiguration(config).status()),
              HasSubstr("'ElectionTimeout' and 'election_timeout' are the same key"));
}

TEST(DeploymentSpecTest, RaftMaxAppendEntriesLimit) {
  DeploymentSpec spec;
  (*spec.raft_configuration.mutable_fields())["max_append_entries"].set_number_value(2048);
  EXPECT_THAT(Message(ValidateDeploymentSpec(spec)),
              HasSubstr("raft_configuration.max_append_entries: must be between 1 and 1024"));
}

// One OpenBLAS thread unless a variable OpenBLAS reads for its thread count is set, and one Go
// processor unless GOMAXPROCS is set, in the replica's env or (inherited) in this process's.
TEST(DeploymentSpecTest, ReplicasRunOneBlasThreadAndOneGoProcessorUnlessSet) {
  using Env = std::map<std::string, std::string>;
  // The variables as this process has them, restored at the end; unset meanwhile.
  std::map<std::string, std::optional<std::string>> saved;
  for (const char* name :
       {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "GOMAXPROCS"}) {
    const char* value = std::getenv(name);
    saved[name] = value == nullptr ? std::nullopt : std::optional<std::string>(value);
    unsetenv(name);
  }
  const Env both = {{"GOMAXPROCS", "1"}, {"OPENBLAS_NUM_THREADS", "1"}};
  const Env go = {{"GOMAXPROCS", "1"}};
  EXPECT_EQ(ReplicaEnvDefaults({}, /*inherited=*/false), both);
  EXPECT_EQ(ReplicaEnvDefaults({{"DEBUG", "1"}}, false), both);
  for (const char* name : {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"}) {
    EXPECT_EQ(ReplicaEnvDefaults({{name, "4"}}, false), go) << name;
  }
  EXPECT_EQ(ReplicaEnvDefaults({{"GOMAXPROCS", "2"}}, false), Env({{"OPENBLAS_NUM_THREADS", "1"}}));
  ASSERT_EQ(setenv("OMP_NUM_THREADS", "3", 1), 0);
  EXPECT_EQ(ReplicaEnvDefaults({}, /*inherited=*/true), go);
  EXPECT_EQ(ReplicaEnvDefaults({}, /*inherited=*/false), both);
  for (const auto& [name, value] : saved) {
    if (value.has_value()) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
}

TEST(DeploymentSpecTest, DidYouMean) {
  EXPECT_EQ(DidYouMean("replica", {"shards", "replicas"}), " (did you mean 'replicas'?)");
  EXPECT_EQ(DidYouMean("Shards", {"shards", "replicas"}), " (did you mean 'shards'?)");
  EXPECT_EQ(DidYouMean("frobnicate", {"shards", "replicas"}), "");
}

}  // namespace
}  // namespace shoal::config
