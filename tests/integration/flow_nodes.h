// Flows for integration tests: Executors (nodes) and Flow options that run this build's `shoal`.
#ifndef SHOAL_TESTS_INTEGRATION_FLOW_NODES_H_
#define SHOAL_TESTS_INTEGRATION_FLOW_NODES_H_

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

inline FlowOptions Options() {
  FlowOptions options;
  options.shoal_binary = ShoalBinary();
  return options;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_FLOW_NODES_H_
