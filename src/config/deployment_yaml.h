// Deployment YAML -> DeploymentSpec. Both layouts are accepted: Jina's (`jtype: Deployment` with
// the arguments under `with:`) and the one the scale-out docs write (the same keys at top level,
// with or without `jtype`). The result has been through ValidateDeploymentSpec.
#ifndef SHOAL_CONFIG_DEPLOYMENT_YAML_H_
#define SHOAL_CONFIG_DEPLOYMENT_YAML_H_

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/config/deployment_spec.h"

namespace shoal::config {

// Parses a Deployment YAML. Every key of Jina's Deployment is recognised: the ones Shoal
// implements fill the spec, the others are accepted and listed in `spec.warnings`. Errors are
// InvalidArgument "file:line:column: key: message": an unknown key (with a suggestion when a
// known key is close), a key given both at top level and under `with:`, a wrong type, an unset
// `${{ ENV.X }}`, and everything ValidateDeploymentSpec rejects. `spec.origin` records where
// each key was written. `uses: jinaai://...` is accepted here; the executor loader rejects it.
// A relative file in `uses` (`x.py:Class`, `x.yml`, `libx.so`) that exists next to `filename`
// becomes that file's path (ResolveUsesNextTo); one that does not stays as written.
absl::StatusOr<DeploymentSpec> ParseDeploymentYaml(std::string_view text,
                                                   std::string_view filename);
// Reads `path` and parses it; NotFound when it cannot be read.
absl::StatusOr<DeploymentSpec> LoadDeploymentYaml(const std::filesystem::path& path);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_DEPLOYMENT_YAML_H_
