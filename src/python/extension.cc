// `_shoal` as an extension module for a user's interpreter (PYTHONPATH=build/python).
#include "absl/synchronization/mutex.h"
#include "src/python/module.h"

PYBIND11_MODULE(_shoal, module) {
  // As in the `shoal` binary: absl's deadlock detection (on in Debian's build) takes a global
  // lock on every mutex acquisition, which serializes the gateway's threads.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  shoal::python::DefineModule(module);
}
