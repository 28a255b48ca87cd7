// PyExecutor: a shoal::Executor whose endpoints are the decorated methods of a Python class
// (shoal.Executor), called under the GIL with the request's documents as views.
#ifndef SHOAL_PYTHON_PY_EXECUTOR_H_
#define SHOAL_PYTHON_PY_EXECUTOR_H_

#include <pybind11/pybind11.h>

#include <filesystem>
#include <string>
#include <vector>

#include "shoal/executor.h"
#include "src/executor/loader.h"

namespace shoal::python {

// Hidden like pybind11 itself, whose objects it holds.
class __attribute__((visibility("hidden"))) PyExecutor final : public Executor {
 public:
  // Imports and constructs `uses` (the interpreter must be running; takes the GIL). Errors are
  // InvalidArgument with Python's message, naming the file and line.
  static StatusOr<executor::LoadedExecutor> Load(const executor::PythonUses& uses);

  ~PyExecutor() override;

  // Calls the method of endpoint `index` (its position in the class's endpoint table).
  Status Call(size_t index, Request& request);
  Status Snapshot(const std::filesystem::path& file) const override;
  Status Restore(const std::filesystem::path& file) override;
  void Close() override;

 private:
  struct Endpoint {
    pybind11::object method;  // bound to the instance
    pybind11::object wrap;    // _shoal.DocList -> the method's DocList[T]
    bool pass_parameters = false;
  };

  PyExecutor() = default;
  // Calls `name(file)` on the instance; Unimplemented when the class has no such method.
  Status CallFileMethod(const char* name, const std::filesystem::path& file) const;

  pybind11::object instance_;
  std::vector<Endpoint> endpoints_;
  std::string class_name_;
};

// The exception being handled, as a Status that carries it (executor::ExceptionStatus). Needs
// the GIL.
Status StatusFromPython(pybind11::error_already_set& error);

}  // namespace shoal::python

#endif  // SHOAL_PYTHON_PY_EXECUTOR_H_
