// The map-level Deployment parser, for the other parsers in src/config/ (a Flow's `executors:`
// items are Deployment maps). It takes yaml-cpp types, so only src/config/ includes it.
#ifndef SHOAL_CONFIG_DEPLOYMENT_YAML_INTERNAL_H_
#define SHOAL_CONFIG_DEPLOYMENT_YAML_INTERNAL_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/config/deployment_spec.h"
#include "yaml-cpp/yaml.h"

namespace shoal::config {

// Parses one Deployment written as a YAML map, in either layout ParseDeploymentYaml accepts, and
// validates it. `skip_keys` are keys the caller reads itself (a Flow item's `method`): they are
// neither parsed nor reported as unknown. Never throws.
absl::StatusOr<DeploymentSpec> ParseDeploymentMap(
    const YAML::Node& node, std::string_view filename,
    const std::vector<std::string_view>& skip_keys = {});

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_DEPLOYMENT_YAML_INTERNAL_H_
