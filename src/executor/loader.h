// Turns a Deployment's `uses` and `uses_with` into a constructed Executor: a registered class
// name, a shared library loaded with dlopen (`path/libx.so[:Class]`), or an Executor YAML.
#ifndef SHOAL_EXECUTOR_LOADER_H_
#define SHOAL_EXECUTOR_LOADER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "shoal/executor.h"
#include "shoal/params.h"
#include "shoal/status.h"
#include "src/config/dynamic_batching.h"
#include "src/executor/registry.h"

namespace shoal::executor {

struct LoadedExecutor {
  std::unique_ptr<Executor> instance;
  const ExecutorClass* cls;  // registry entry; valid for the life of the process
  // An Executor YAML's `dynamic_batching:`, and the YAML's name for messages.
  config::DynamicBatchingTable dynamic_batching;
  std::string dynamic_batching_source;
};

// Where the Executor will serve, for Executors that read it while they are built (Python's
// `runtime_args` and `metas`).
struct LoadContext {
  std::string name = "executor";  // the replica's name, `name/rep-i` or `name/shard-s/rep-i`
  std::string workspace;          // empty when the Deployment has none
  // Refuse a Python Executor (FAILED_PRECONDITION naming why) before anything of it runs: for
  // replicas inside a process that must not start an interpreter.
  bool native_only = false;
};

// A Python Executor to build: what to import, in order, and which class.
struct PythonUses {
  std::string uses;                      // as written, for messages
  std::vector<std::string> modules;      // .py files, a .cloudpickle file, or module names
  std::string class_name;                // empty: the one Executor subclass the modules define
  std::vector<std::string> search_path;  // folders put on sys.path (the .py's or the YAML's)
  google::protobuf::Struct with;         // keyword arguments: uses_with over the YAML's `with`
  std::string metas_name;                // the YAML's metas.name; empty when absent
  std::string metas_workspace;           // the YAML's metas.workspace; empty when absent
  // The YAML's `requests:` (endpoint -> method name), over the class's @requests bindings.
  std::vector<std::pair<std::string, std::string>> requests;
  LoadContext context;
};

// Builds Python Executors; installed by the `shoal` binary when it is built with Python, so that
// this loader does not depend on Python. Without one a Python `uses` is Unimplemented.
using PythonLoader = std::function<StatusOr<LoadedExecutor>(const PythonUses& uses)>;
// Call before the first LoadExecutor; thread-safe.
void SetPythonLoader(PythonLoader loader);

// Resolves `uses`, in order: a registered class name; a shared library `path/libx.so` (the one
// class it registers) or `path/libx.so:Class`; a Python Executor (`x.py[:Class]`,
// `package.module:Class`, `x.cloudpickle`, through the PythonLoader); an Executor YAML file or
// inline `jtype: ...` text (its `with:` merged under `uses_with`, whose keys win; with
// `py_modules:` a Python Executor, the modules relative to the YAML's folder). Then constructs the
// class through its factory with a Config that owns its data, so the Executor may keep a copy.
//
// Errors: NotFound for an unknown class (listing the registered ones) or a library that cannot
// be loaded (with dlerror's text); InvalidArgument for malformed YAML or an ambiguous library;
// Unimplemented for hub and docker references; a factory's own error with context.
// Thread-safe. Libraries stay loaded for the life of the process.
StatusOr<LoadedExecutor> LoadExecutor(std::string_view uses, const Params& uses_with,
                                      const LoadContext& context = {});

}  // namespace shoal::executor

#endif  // SHOAL_EXECUTOR_LOADER_H_
