// Python dicts -> the C++ API's option structs (include/shoal/{deployment,flow,client}.h). The
// keys are the structs' field names; the `shoal` package maps Jina's keyword arguments onto them.
// An unknown key or a value of the wrong type raises TypeError naming the key.
#ifndef SHOAL_PYTHON_API_OPTIONS_H_
#define SHOAL_PYTHON_API_OPTIONS_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/flow.h"

namespace shoal::python {

// Types holding Python objects take pybind11's hidden visibility.
#define SHOAL_PYTHON_HIDDEN __attribute__((visibility("hidden")))

DeploymentOptions ToDeploymentOptions(const pybind11::dict& values);
FlowOptions ToFlowOptions(const pybind11::dict& values);
ClientOptions ToClientOptions(const pybind11::dict& values);

// One response as a callback sees it: a copy that stays valid after the callback returns.
struct SHOAL_PYTHON_HIDDEN ResponseSnapshot {
  bool ok = true;
  std::string request_id;
  std::string error;  // header.status.description
  std::string exception_name;
  pybind11::object docs;   // a `_shoal.DocList` that owns its documents
  std::string parameters;  // JSON
};

// What a Python callback raised while the C++ code called it with the GIL released: the first
// exception is kept and later callbacks are skipped; the caller re-raises it once it holds the
// GIL again. Destroy only with the GIL held.
struct SHOAL_PYTHON_HIDDEN CallbackErrors {
  std::optional<pybind11::error_already_set> first;
};

// PostOptions whose callbacks (`on_done`, `on_error`, `on_always`: callables taking a
// `_shoal.Response`) acquire the GIL and record exceptions in `errors`. The Python objects are
// held through `keep`, so that copies of the options made without the GIL never touch a
// reference count; destroy `keep` (and the options) with the GIL held.
struct SHOAL_PYTHON_HIDDEN PythonPostOptions {
  PostOptions options;
  std::shared_ptr<CallbackErrors> errors = std::make_shared<CallbackErrors>();
  std::vector<std::shared_ptr<pybind11::object>> keep;
};
std::unique_ptr<PythonPostOptions> ToPostOptions(const pybind11::dict& values);

}  // namespace shoal::python

#endif  // SHOAL_PYTHON_API_OPTIONS_H_
