// Flows and Deployments for integration and fault tests: Executors (nodes), a stateful indexer
// and Flow options that run this build's `shoal`.
#ifndef SHOAL_TESTS_INTEGRATION_FLOW_NODES_H_
#define SHOAL_TESTS_INTEGRATION_FLOW_NODES_H_

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "shoal/deployment.h"
#include "shoal/flow.h"
#include "tests/integration/child_process.h"

namespace shoal::testing {

// An Executor of a Flow: `uses`, after `needs` (empty: the previous node), ready within 30 s.
inline DeploymentOptions Node(std::string name, std::string uses,
                              std::vector<std::string> needs = {}) {
  DeploymentOptions options;
  options.name = std::move(name);
  options.uses = std::move(uses);
  options.needs = std::move(needs);
  options.shoal_binary = ShoalBinary();
  options.timeout_ready_ms = 30000;
  return options;
}

// The Raft timings of the stateful tests: elections within a few hundred milliseconds.
inline constexpr char kFastRaftConfiguration[] =
    R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
        "CommitTimeout": 5, "LogLevel": "WARN"})";

// Three Raft replicas of ExactNNIndexer (L2) in `workspace`, with fast Raft timings and the
// retries and send timeout that carry writes over a leader change.
inline DeploymentOptions StatefulIndexer(const std::string& name,
                                         const std::filesystem::path& workspace) {
  DeploymentOptions options;
  options.name = name;
  options.uses = "ExactNNIndexer";
  options.uses_with = R"({"metric": "l2"})";
  options.replicas = 3;
  options.stateful = true;
  options.workspace = workspace.string();
  options.raft_configuration = kFastRaftConfiguration;
  options.retries = 30;  // rounds over the replicas, with pauses, while a new leader is elected
  options.timeout_send_ms = 2000;  // a frozen replica does not hold an attempt for longer
  options.shoal_binary = ShoalBinary();
  options.timeout_ready_ms = 60000;
  return options;
}

inline FlowOptions Options() {
  FlowOptions options;
  options.shoal_binary = ShoalBinary();
  return options;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_FLOW_NODES_H_
