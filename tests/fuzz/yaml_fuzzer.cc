// libFuzzer target: arbitrary bytes parsed as a Deployment YAML, a Flow YAML and an Executor
// YAML, from a string; every outcome must be a value or an error, never a crash, a hang or
// unbounded memory (anchors and aliases, deep nesting and bad scalars included).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/config/deployment_yaml.h"
#include "src/config/executor_yaml.h"
#include "src/config/flow_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)shoal::config::YamlKind(text, "fuzz.yml");
  (void)shoal::config::ParseDeploymentYaml(text, "fuzz.yml");
  (void)shoal::config::ParseFlowYaml(text, "fuzz.yml");
  (void)shoal::config::ParseExecutorYaml(text, "fuzz.yml");
  return 0;
}
