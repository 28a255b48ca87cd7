// Global Executor class registry, filled at static-initialisation time and by dlopen.
#include "src/executor/registry.h"

#include <algorithm>
#include <deque>

#include "absl/synchronization/mutex.h"
#include "src/common/log.h"

namespace shoal {
namespace executor {
namespace {

struct Registry {
  absl::Mutex mu;
  // A deque keeps pointers handed out by FindExecutorClass stable.
  std::deque<ExecutorClass> classes ABSL_GUARDED_BY(mu);
  std::vector<std::string> refused ABSL_GUARDED_BY(mu);  // names registered a second time
};

Registry& Global() {
  static Registry* registry = new Registry();  // never destroyed: used during static init/exit
  return *registry;
}

}  // namespace

const ExecutorClass* FindExecutorClass(std::string_view name) {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  for (const ExecutorClass& c : r.classes) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<std::string> RegisteredExecutorNames() {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  std::vector<std::string> names;
  for (const ExecutorClass& c : r.classes) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  return names;
}

size_t RegisteredExecutorCount() {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  return r.classes.size();
}

std::vector<std::string> ExecutorNamesSince(size_t count) {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  std::vector<std::string> names;
  for (size_t i = count; i < r.classes.size(); ++i) names.push_back(r.classes[i].name);
  return names;
}

size_t RefusedExecutorCount() {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  return r.refused.size();
}

std::vector<std::string> RefusedExecutorNamesSince(size_t count) {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  if (count >= r.refused.size()) return {};
  return std::vector<std::string>(r.refused.begin() + static_cast<std::ptrdiff_t>(count),
                                  r.refused.end());
}

}  // namespace executor

namespace internal {

void RegisterExecutor(std::string_view class_name, Factory factory, EndpointTable endpoints) {
  executor::Registry& r = executor::Global();
  absl::MutexLock lock(&r.mu);
  for (executor::ExecutorClass& c : r.classes) {
    if (c.name == class_name) {
      // Two classes with one name: the first one stays; the loader reports the second.
      r.refused.emplace_back(class_name);
      return;
    }
  }
  r.classes.push_back({std::string(class_name), std::move(factory), std::move(endpoints)});
}

}  // namespace internal
}  // namespace shoal
