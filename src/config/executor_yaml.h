// Executor YAML, as Jina writes it (`jtype: ClassName`, `with:`, `metas:`), parsed into a plain
// struct. The executor loader turns it into an instance.
#ifndef SHOAL_CONFIG_EXECUTOR_YAML_H_
#define SHOAL_CONFIG_EXECUTOR_YAML_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "src/config/dynamic_batching.h"

namespace shoal::config {

struct ExecutorYaml {
  std::string jtype;              // the class to construct (`jtype:` or a `!ClassName` tag)
  google::protobuf::Struct with;  // constructor configuration; empty when absent
  std::string name;               // metas.name; empty when absent
  std::string workspace;          // metas.workspace; empty when absent
  // Python files to import before the class is looked up (`py_modules:` at the top level or
  // under `metas:`, a string or a list), as written: relative to the YAML's folder.
  std::vector<std::string> py_modules;
  // `requests:` (endpoint -> method name), in file order: for a Python Executor each entry binds
  // the endpoint to the method, over the class's own @requests bindings.
  std::vector<std::pair<std::string, std::string>> requests;
  // `dynamic_batching:` (endpoint -> options), over the endpoints' own registrations.
  DynamicBatchingTable dynamic_batching;
};

// Parses an Executor YAML. Accepted top-level keys: jtype, with, metas, py_modules, requests and
// dynamic_batching (see dynamic_batching.h).
// Errors are InvalidArgument naming "file:line:column" and the key: not a map, missing jtype,
// `with` or `metas` not a map, `requests` not a map of endpoint to method name, an unknown
// top-level key, a duplicate key, an unset `${{ ENV.X }}`.
absl::StatusOr<ExecutorYaml> ParseExecutorYaml(std::string_view text, std::string_view filename);
// Reads `path` and parses it; NotFound when it cannot be read.
absl::StatusOr<ExecutorYaml> LoadExecutorYaml(const std::filesystem::path& path);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_EXECUTOR_YAML_H_
