// Executor loading: `uses` -> registry entry (through dlopen or an Executor YAML when needed) ->
// an instance built by the class's factory. Libraries are opened once and never closed.
#include "src/executor/loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "src/common/log.h"
#include "src/config/executor_yaml.h"
#include "src/config/uses.h"

namespace shoal::executor {
namespace {

using config::UsesSpec;
using google::protobuf::Struct;

Status WithContext(const Status& status, std::string_view context) {
  return Status(status.code(), absl::StrFormat("%s: %s", context, status.message()));
}

std::string JoinOrNone(const std::vector<std::string>& names) {
  return names.empty() ? std::string("(none)") : absl::StrJoin(names, ", ");
}

StatusOr<const ExecutorClass*> FindClass(std::string_view name) {
  if (const ExecutorClass* cls = FindExecutorClass(name)) return cls;
  return absl::NotFoundError(absl::StrFormat("unknown Executor '%s'; registered: %s", name,
                                             JoinOrNone(RegisteredExecutorNames())));
}

// Libraries opened so far: the path given to dlopen -> the classes that opening registered.
struct Libraries {
  absl::Mutex mu;
  std::map<std::string, std::vector<std::string>> names ABSL_GUARDED_BY(mu);
  std::map<std::string, Status> errors ABSL_GUARDED_BY(mu);  // libraries whose classes clashed
};

Libraries& OpenedLibraries() {
  static Libraries* libraries = new Libraries();  // never destroyed, like the registry
  return *libraries;
}

// The same file under one key however it was spelled; names that are not files here are left
// to dlopen's own search (LD_LIBRARY_PATH, the system directories).
std::string LibraryKey(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return path.string();
  std::filesystem::path canonical = std::filesystem::canonical(path, error);
  return error ? std::filesystem::absolute(path, error).string() : canonical.string();
}

StatusOr<std::vector<std::string>> OpenLibrary(const std::string& key) {
  Libraries& libraries = OpenedLibraries();
  // Held across dlopen so that the classes counted are this library's own. The library's static
  // initialisers run inside; they only call RegisterExecutor, which takes the registry's lock.
  absl::MutexLock lock(&libraries.mu);
  auto it = libraries.names.find(key);
  if (it != libraries.names.end()) return it->second;
  if (auto failed = libraries.errors.find(key); failed != libraries.errors.end()) {
    return failed->second;
  }
  const size_t before = RegisteredExecutorCount();
  const size_t refused_before = RefusedExecutorCount();
  dlerror();
  // Never dlclose'd: the registry keeps factories and endpoints that live in the library's code.
  void* handle = dlopen(key.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return absl::NotFoundError(absl::StrFormat("cannot load Executor library '%s': %s", key,
                                               error != nullptr ? error : "unknown error"));
  }
  std::vector<std::string> names = ExecutorNamesSince(before);
  if (std::vector<std::string> taken = RefusedExecutorNamesSince(refused_before); !taken.empty()) {
    // The library's class would silently lose to the one already registered under its name.
    Status error = absl::AlreadyExistsError(absl::StrFormat(
        "Executor library '%s' registers %s, already the name of another Executor class (a "
        "built-in or another library's); give its class another name",
        key, absl::StrJoin(taken, ", ")));
    libraries.errors.emplace(key, error);
    return error;
  }
  libraries.names.emplace(key, names);
  return names;
}

StatusOr<const ExecutorClass*> ResolveLibrary(const std::filesystem::path& path,
                                              const std::string& class_name) {
  const std::string key = LibraryKey(path);
  SHOAL_ASSIGN_OR_RETURN(std::vector<std::string> names, OpenLibrary(key));
  if (!class_name.empty()) {
    const bool listed = std::find(names.begin(), names.end(), class_name) != names.end();
    // An empty list: the library was already in the process (linked in, or opened by someone
    // else), so its classes are in the registry under their own names.
    if (listed || names.empty()) {
      if (const ExecutorClass* cls = FindExecutorClass(class_name)) return cls;
    }
    return absl::NotFoundError(
        absl::StrFormat("library '%s' has no Executor class '%s'; it "
                        "registers: %s",
                        key, class_name, JoinOrNone(names)));
  }
  if (names.size() == 1) return FindClass(names[0]);
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "library '%s' registers no Executor class (SHOAL_EXECUTOR(Class) registers one; a name "
        "that is already registered is not registered again); name one with '%s:ClassName'",
        key, path.string()));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("library '%s' registers several Executor classes (%s); pick one with '%s:%s'",
                      key, absl::StrJoin(names, ", "), path.string(), names[0]));
}

// A class and the configuration the Executor YAML gives it, or a Python Executor.
struct Resolved {
  const ExecutorClass* cls = nullptr;
  Struct with;
  std::optional<PythonUses> python;
  config::DynamicBatchingTable dynamic_batching;  // an Executor YAML's
  std::string dynamic_batching_source;
};

struct PythonLoaderSlot {
  absl::Mutex mu;
  PythonLoader loader ABSL_GUARDED_BY(mu);
};

PythonLoaderSlot& PythonLoaderHolder() {
  static PythonLoaderSlot* slot = new PythonLoaderSlot();  // never destroyed
  return *slot;
}

// The folder of `file` as a search path entry ("." for a bare file name).
std::string FolderOf(const std::filesystem::path& file) {
  std::filesystem::path folder = file.parent_path();
  return folder.empty() ? std::string(".") : folder.string();
}

PythonUses PythonFromUses(const UsesSpec& spec, std::string_view uses) {
  PythonUses python;
  python.uses = std::string(uses);
  python.modules = {spec.path_or_name};
  python.class_name = spec.class_name;
  const bool is_file = std::string_view(spec.path_or_name).ends_with(".py") ||
                       std::string_view(spec.path_or_name).ends_with(".cloudpickle");
  if (is_file) python.search_path = {FolderOf(spec.path_or_name)};
  return python;
}

// An Executor YAML with `py_modules`: its files are relative to the YAML's folder.
PythonUses PythonFromYaml(const UsesSpec& spec, config::ExecutorYaml& yaml, std::string_view uses) {
  PythonUses python;
  python.uses = std::string(uses);
  const std::filesystem::path folder = spec.inline_yaml
                                           ? std::filesystem::path(".")
                                           : std::filesystem::path(FolderOf(spec.path_or_name));
  for (const std::string& module : yaml.py_modules) {
    std::filesystem::path path = module;
    python.modules.push_back(path.is_relative() ? (folder / path).string() : module);
  }
  python.search_path = {folder.string()};
  python.class_name = yaml.jtype;
  python.with = std::move(yaml.with);
  python.metas_name = yaml.name;
  python.metas_workspace = yaml.workspace;
  python.requests = std::move(yaml.requests);
  return python;
}

StatusOr<Resolved> ResolveYaml(const UsesSpec& spec) {
  const std::string source = spec.inline_yaml ? std::string("<inline uses>") : spec.path_or_name;
  StatusOr<config::ExecutorYaml> yaml = spec.inline_yaml
                                            ? config::ParseExecutorYaml(spec.path_or_name, source)
                                            : config::LoadExecutorYaml(spec.path_or_name);
  if (!yaml.ok()) return yaml.status();
  const std::string context = absl::StrFormat("Executor YAML '%s'", source);
  if (!yaml->py_modules.empty()) {
    return Resolved{.python = PythonFromYaml(spec, *yaml, source),
                    .dynamic_batching = std::move(yaml->dynamic_batching),
                    .dynamic_batching_source = context};
  }
  if (!yaml->requests.empty()) {
    SHOAL_LOG_WARNING(
        "%s: 'requests' is ignored: a C++ Executor's endpoints come from its "
        "Register()",
        context);
  }
  StatusOr<UsesSpec> jtype = config::ParseUses(yaml->jtype);
  if (!jtype.ok()) return WithContext(jtype.status(), context);
  StatusOr<const ExecutorClass*> cls;
  if (jtype->kind == UsesSpec::Kind::kClass) {
    cls = FindClass(jtype->path_or_name);
  } else if (jtype->kind == UsesSpec::Kind::kLibrary) {
    // A relative library path in a YAML file is relative to that file, as Jina's py_modules are.
    std::filesystem::path library = jtype->path_or_name;
    if (!spec.inline_yaml && library.is_relative()) {
      library = std::filesystem::path(spec.path_or_name).parent_path() / library;
    }
    cls = ResolveLibrary(library, jtype->class_name);
  } else {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: jtype '%s' must name an Executor class", context, yaml->jtype));
  }
  if (!cls.ok()) return WithContext(cls.status(), context);
  return Resolved{.cls = *cls,
                  .with = std::move(yaml->with),
                  .dynamic_batching = std::move(yaml->dynamic_batching),
                  .dynamic_batching_source = context};
}

StatusOr<Resolved> Resolve(std::string_view uses) {
  SHOAL_ASSIGN_OR_RETURN(UsesSpec spec, config::ParseUses(uses));
  switch (spec.kind) {
    case UsesSpec::Kind::kClass: {
      SHOAL_ASSIGN_OR_RETURN(const ExecutorClass* cls, FindClass(spec.path_or_name));
      return Resolved{cls, Struct()};
    }
    case UsesSpec::Kind::kLibrary: {
      SHOAL_ASSIGN_OR_RETURN(const ExecutorClass* cls,
                             ResolveLibrary(spec.path_or_name, spec.class_name));
      return Resolved{cls, Struct()};
    }
    case UsesSpec::Kind::kYaml:
      return ResolveYaml(spec);
    case UsesSpec::Kind::kPython:
      return Resolved{.python = PythonFromUses(spec, uses)};
  }
  return absl::InternalError("unknown uses kind");
}

// A Config that owns a copy of `config` (Params can only own what it parsed from JSON).
StatusOr<Params> OwnedConfig(const Struct& config) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(config, &json).ok()) {
    return absl::InvalidArgumentError("uses_with cannot be written as JSON (NaN or infinity?)");
  }
  std::string error;
  std::optional<Params> params = Params::FromJson(json, &error);
  if (!params.has_value()) return absl::InternalError(error);
  return *std::move(params);
}

StatusOr<std::unique_ptr<Executor>> Construct(const ExecutorClass& cls, const Params& config) {
  // The factory runs user code; an exception from it must not cross into the runtime.
  try {
    StatusOr<std::unique_ptr<Executor>> made = cls.factory(config);
    if (made.ok() && *made == nullptr) return absl::InternalError("the factory returned null");
    return made;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrFormat("uncaught exception: %s", e.what()));
  } catch (...) {
    return absl::InternalError("uncaught exception");
  }
}

StatusOr<LoadedExecutor> LoadPython(PythonUses python, const Params& uses_with,
                                    const LoadContext& context) {
  for (const auto& [key, value] : uses_with.proto().fields()) {
    (*python.with.mutable_fields())[key] = value;
  }
  python.context = context;
  if (context.native_only) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "'%s' is a Python Executor, which runs in replica processes only (inprocess: true takes "
        "C++ Executors)",
        python.uses));
  }
  PythonLoader loader;
  {
    PythonLoaderSlot& slot = PythonLoaderHolder();
    absl::MutexLock lock(&slot.mu);
    loader = slot.loader;
  }
  if (!loader) {
    return absl::UnimplementedError(absl::StrFormat(
        "'%s' is a Python Executor, and this shoal was built without Python (SHOAL_PYTHON=OFF)",
        python.uses));
  }
  StatusOr<LoadedExecutor> loaded = loader(python);
  if (loaded.ok() && loaded->instance == nullptr) {
    return absl::InternalError("the Python loader returned no Executor");
  }
  return loaded;
}

// A write endpoint changes state once per request (a stateful Deployment replays it from the Raft
// log on every replica); a stream is a read that answers as it goes, so an endpoint is not both.
Status CheckEndpoints(const ExecutorClass& cls) {
  for (const internal::EndpointEntry& entry : cls.endpoints.entries) {
    if (entry.write && entry.is_generator()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "Executor '%s': endpoint '%s' is both a write endpoint and a streaming (generator) "
          "endpoint; streaming endpoints are reads",
          cls.name, entry.name));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void SetPythonLoader(PythonLoader loader) {
  PythonLoaderSlot& slot = PythonLoaderHolder();
  absl::MutexLock lock(&slot.mu);
  slot.loader = std::move(loader);
}

StatusOr<LoadedExecutor> LoadExecutor(std::string_view uses, const Params& uses_with,
                                      const LoadContext& load_context) {
  SHOAL_ASSIGN_OR_RETURN(Resolved resolved, Resolve(uses));
  if (resolved.python.has_value()) {
    StatusOr<LoadedExecutor> loaded =
        LoadPython(*std::move(resolved.python), uses_with, load_context);
    if (loaded.ok()) {
      SHOAL_RETURN_IF_ERROR(CheckEndpoints(*loaded->cls));
      loaded->dynamic_batching = std::move(resolved.dynamic_batching);
      loaded->dynamic_batching_source = std::move(resolved.dynamic_batching_source);
    }
    return loaded;
  }
  SHOAL_RETURN_IF_ERROR(CheckEndpoints(*resolved.cls));
  // Jina updates the YAML's `with` by `uses_with`, key by key: uses_with wins.
  for (const auto& [key, value] : uses_with.proto().fields()) {
    (*resolved.with.mutable_fields())[key] = value;
  }
  const std::string context = absl::StrFormat("constructing Executor '%s'", resolved.cls->name);
  StatusOr<Params> config = OwnedConfig(resolved.with);
  if (!config.ok()) return WithContext(config.status(), context);
  StatusOr<std::unique_ptr<Executor>> instance = Construct(*resolved.cls, *config);
  if (!instance.ok()) return WithContext(instance.status(), context);
  return LoadedExecutor{*std::move(instance), resolved.cls, std::move(resolved.dynamic_batching),
                        std::move(resolved.dynamic_batching_source)};
}

}  // namespace shoal::executor
