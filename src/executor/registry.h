// The process-wide registry of Executor classes: built-ins, classes linked into the binary, and
// classes that shared libraries register when loaded. Maps a class name to its factory and its
// endpoint table.
#ifndef SHOAL_EXECUTOR_REGISTRY_H_
#define SHOAL_EXECUTOR_REGISTRY_H_

#include <string>
#include <string_view>
#include <vector>

#include "shoal/executor.h"

namespace shoal::executor {

struct ExecutorClass {
  std::string name;
  internal::Factory factory;
  internal::EndpointTable endpoints;
  // Whether a cheap call may run on the thread that received its request, when the replica has
  // nothing else to run (ReplicaRuntime::PostRequest); calls never overlap either way. False
  // for Python Executors: the interpreter's state stays on the executor thread.
  bool inline_calls = true;
};

// Looks up a registered class; nullptr when unknown. The pointer stays valid for the life of the
// process. Thread-safe.
const ExecutorClass* FindExecutorClass(std::string_view name);
// Names of all registered classes, sorted.
std::vector<std::string> RegisteredExecutorNames();
// How many classes have been registered so far (lets a loader see what a library added).
size_t RegisteredExecutorCount();
// The names registered after the first `count` registrations, in registration order.
std::vector<std::string> ExecutorNamesSince(size_t count);
// Registrations refused because the name was taken (a library's class named like a built-in or
// like another library's): how many so far, and the names after the first `count`.
size_t RefusedExecutorCount();
std::vector<std::string> RefusedExecutorNamesSince(size_t count);

}  // namespace shoal::executor

#endif  // SHOAL_EXECUTOR_REGISTRY_H_
