// Classification of a Deployment's `uses:` string (Jina's spellings included) into what the
// executor loader should do with it, and the resolution of a relative file in `uses` against the
// folder of the YAML that names it. Nothing is read or loaded here.
#ifndef SHOAL_CONFIG_USES_H_
#define SHOAL_CONFIG_USES_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shoal::config {

struct UsesSpec {
  enum class Kind {
    kClass,    // a registered class name
    kLibrary,  // a shared library, `path/libx.so` or `path/libx.so:ClassName`
    kYaml,     // an Executor YAML file, or inline YAML text
    kPython,   // a Python Executor: `x.py[:Class]`, `package.module:Class` or `x.cloudpickle`
  };
  Kind kind;
  // Class name, library path, YAML path or inline YAML text; kPython: the .py or .cloudpickle
  // file, or the module name.
  std::string path_or_name;
  std::string class_name;    // kLibrary and kPython with `:ClassName` only
  bool inline_yaml = false;  // kYaml: path_or_name is the YAML text itself
};

// Classifies `uses`:
//   `Name` (an identifier)                -> kClass
//   `path/libx.so`, `path/libx.so:Class`  -> kLibrary
//   `x.yml`, `x.yaml`                     -> kYaml (a file)
//   `x.py`, `x.py:Class`, `x.cloudpickle`, `package.module:Class` -> kPython
//   `jtype: ...` or `!Class ...`          -> kYaml (inline text)
// Errors: Unimplemented for hub (`jinaai://`, `jinaai+docker://`, `jinahub://`) and `docker://`
// references; InvalidArgument naming `uses` for anything else.
absl::StatusOr<UsesSpec> ParseUses(std::string_view uses);

// `uses` with a relative file (`x.py`, `x.py:Class`, `x.cloudpickle`, `x.yml`, `libx.so[:Class]`)
// rewritten to `yaml_dir / file` when that file exists there, as Jina resolves the files a YAML
// names against the YAML's folder. Everything else comes back unchanged: class names,
// `package.module:Class`, inline YAML, absolute paths, files not next to the YAML (they stay
// relative to the working directory), and text ParseUses rejects.
std::string ResolveUsesNextTo(std::string_view uses, const std::filesystem::path& yaml_dir);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_USES_H_
