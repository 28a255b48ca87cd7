// PyExecutor: a shoal::Executor whose endpoints are the decorated methods of a Python class
// (shoal.Executor), called under the GIL with the request's documents as views.
#ifndef SHOAL_PYTHON_PY_EXECUTOR_H_
#define SHOAL_PYTHON_PY_EXECUTOR_H_

#include <pybind11/pybind11.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "docarray.pb.h"
#include "shoal/executor.h"
#include "src/executor/loader.h"
#include "src/executor/request_state.h"
#include "src/python/doc_views.h"

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
  // Calls the generator of streaming endpoint `index` on the request's one document and writes
  // each document it yields to `out` at once (without the GIL while Write waits).
  Status CallStream(size_t index, Request& request, DocWriter& out);
  Status Snapshot(const std::filesystem::path& file) const override;
  Status Restore(const std::filesystem::path& file) override;
  void Close() override;

 private:
  struct Endpoint {
    pybind11::object method;  // bound to the instance
    pybind11::object wrap;    // _shoal.DocList -> the method's DocList[T]
    bool pass_parameters = false;
    bool pass_parts = false;    // docs_matrix and docs_map, for requests of several parts
    bool is_generator = false;  // takes `doc`, yields documents; `wrap` makes the doc's class
  };

  PyExecutor() = default;
  // Answers what the method returned: None (docs edited in place), a DocList (the new docs) or a
  // dict (results). `given` is what Python got (the request's docs, or their copy).
  Status TakeResult(pybind11::handle result, const docarray::DocListProto& given,
                    const std::shared_ptr<Root>& request_root, internal::RequestState& state) const;
  // Adds `docs_matrix` and `docs_map` (Jina's no_reduce arguments) for a request of several
  // parts: views of each part sharing `request_root`, or copies when it is null.
  static void AddParts(const Endpoint& endpoint, const internal::RequestState& state,
                       const std::shared_ptr<Root>& request_root, pybind11::dict& kwargs);
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
