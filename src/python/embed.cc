// The embedded interpreter: `_shoal` built into the binary (so that `import _shoal` in a replica
// finds it and never loads the extension module as a second copy), started on the first Python
// `uses`, with the GIL released between calls.
#include "src/python/embed.h"

#include <pybind11/embed.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/log.h"
#include "src/executor/loader.h"
#include "src/executor/request_state.h"
#include "src/python/module.h"
#include "src/python/py_executor.h"

namespace py = pybind11;

PYBIND11_EMBEDDED_MODULE(_shoal, module) {
  shoal::python::DefineModule(module);
  // Python's logging levels (10, 20, 30, 40) onto Shoal's log, which prefixes `name/rep-i@pid`.
  module.def(
      "_log",
      [](int level, const std::string& message) {
        shoal::LogLevel shoal_level = level >= 40   ? shoal::LogLevel::kError
                                      : level >= 30 ? shoal::LogLevel::kWarning
                                      : level >= 20 ? shoal::LogLevel::kInfo
                                                    : shoal::LogLevel::kDebug;
        if (shoal::LogEnabled(shoal_level)) shoal::LogLine(shoal_level, message);
      },
      py::arg("level"), py::arg("message"));
  // Executor.request_cancelled(): whether the call the Executor serves has lost its caller.
  module.def("_request_cancelled", [] {
    const shoal::internal::RequestState* state = shoal::internal::CurrentRequest();
    return state != nullptr && state->cancelled && state->cancelled();
  });
}

namespace shoal::python {
namespace {

// Starts the interpreter once, on the calling thread, and releases the GIL for the threads that
// call the Executor. Never finalized: the process ends with it.
Status StartInterpreter() {
  static std::once_flag once;
  static Status started;
  std::call_once(once, [] {
    try {
      py::initialize_interpreter(/*init_signal_handlers=*/false);
      // The package beside the `_shoal` it was built with; a PYTHONPATH given stays in front.
      py::list path = py::module_::import("sys").attr("path");
      if (std::getenv("PYTHONPATH") != nullptr) {
        path.append(SHOAL_PYTHON_DIR);
      } else {
        path.insert(0, SHOAL_PYTHON_DIR);
      }
      // print() in an Executor reaches the replica's log line by line, as in a terminal.
      py::module_::import("sys").attr("stdout").attr("reconfigure")(py::arg("line_buffering") =
                                                                        true);
      py::module_::import("shoal.serve.runtime");
    } catch (py::error_already_set& error) {
      started = absl::InternalError(
          absl::StrCat("cannot start Python (package dir ", SHOAL_PYTHON_DIR, "): ", error.what()));
    } catch (const std::exception& error) {
      started = absl::InternalError(absl::StrCat("cannot start Python: ", error.what()));
    }
    new py::gil_scoped_release();  // held for the life of the process
  });
  return started;
}

StatusOr<executor::LoadedExecutor> LoadPython(const executor::PythonUses& uses) {
  SHOAL_RETURN_IF_ERROR(StartInterpreter());
  return PyExecutor::Load(uses);
}

}  // namespace

void InstallPythonExecutors() { executor::SetPythonLoader(&LoadPython); }

}  // namespace shoal::python
