// Turns a Deployment's `uses` and `uses_with` into a constructed Executor: a registered class
// name, a shared library loaded with dlopen (`path/libx.so[:Class]`), or an Executor YAML.
#ifndef SHOAL_EXECUTOR_LOADER_H_
#define SHOAL_EXECUTOR_LOADER_H_

#include <memory>
#include <string_view>

#include "shoal/executor.h"
#include "shoal/params.h"
#include "shoal/status.h"
#include "src/executor/registry.h"

namespace shoal::executor {

struct LoadedExecutor {
  std::unique_ptr<Executor> instance;
  const ExecutorClass* cls;  // registry entry; valid for the life of the process
};

// Resolves `uses`, in order: a registered class name; a shared library `path/libx.so` (the one
// class it registers) or `path/libx.so:Class`; an Executor YAML file or inline `jtype: ...` text
// (its `with:` merged under `uses_with`, whose keys win). Then constructs the class through its
// factory with a Config that owns its data, so the Executor may keep a copy.
//
// Errors: NotFound for an unknown class (listing the registered ones) or a library that cannot
// be loaded (with dlerror's text); InvalidArgument for malformed YAML or an ambiguous library;
// Unimplemented for hub and docker references; a factory's own error with context.
// Thread-safe. Libraries stay loaded for the life of the process.
StatusOr<LoadedExecutor> LoadExecutor(std::string_view uses, const Params& uses_with);

}  // namespace shoal::executor

#endif  // SHOAL_EXECUTOR_LOADER_H_
