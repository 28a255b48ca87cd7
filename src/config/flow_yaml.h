// Flow YAML -> FlowSpec, as Jina writes it: `jtype: Flow`, `version`, `with:` (gateway settings
// and Deployment defaults), `executors:` (alias `deployments:`) and `gateway:`. The result has
// every `needs` filled and has been through ValidateFlowSpec.
#ifndef SHOAL_CONFIG_FLOW_YAML_H_
#define SHOAL_CONFIG_FLOW_YAML_H_

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/config/flow_spec.h"

namespace shoal::config {

// Parses a Flow YAML.
//
// `with:` holds the gateway's `name`, `port`/`ports` (one or a list), `host`,
// `protocol`/`protocols` (one or a list, any case) and `prefetch`, and the Deployment keys every
// Executor inherits unless it sets them itself: `env` (merged per variable, the Executor's value
// winning), `timeout_send`, `timeout_ready`, `retries`, `workspace`, `load_balancing` and
// `grpc_metadata`. Jina's other Flow and gateway keys are accepted and listed in `warnings`;
// per-Executor keys (`replicas`, `shards`, ...) are errors there. `gateway:` takes the same
// gateway settings; one given under both is an error.
//
// Each `executors:` item is a map of Deployment keys (either layout ParseDeploymentYaml takes)
// with an optional `method`: `add` (the default), `needs` (a join of two or more nodes) or
// `needs_all` (a join of every node nobody needs yet), a join being named `joiner` and using
// BaseExecutor unless it says otherwise; or a string, the path of a Deployment YAML, relative to
// the Flow file's folder. An item named `gateway` is skipped, as Jina does; an item without a
// name is `executor<N>`, N the number of Executors added before it. An omitted `needs` is the
// last non-floating node added before (at first the gateway). Each Executor's own warnings stay
// in its DeploymentSpec.
//
// Errors are InvalidArgument naming file:line:column and the key or node; errors inside a
// Deployment YAML that an item names keep that file's location.
absl::StatusOr<FlowSpec> ParseFlowYaml(std::string_view text, std::string_view filename);

// Reads `path` and parses it; NotFound when it cannot be read.
absl::StatusOr<FlowSpec> LoadFlowYaml(const std::filesystem::path& path);

// What a YAML document declares itself to be, for commands that take either file: its `jtype`
// (or `!Tag`) when it has one; else "Flow" when it has `executors:` or `deployments:`, else
// "Deployment" (the seed's top-level layout). Errors: syntax, or a document that is no map.
absl::StatusOr<std::string> YamlKind(std::string_view text, std::string_view filename);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_FLOW_YAML_H_
