// The `_shoal` Python module: one definition, built as an extension module (extension.cc) for a
// user's interpreter and embedded into the `shoal` binary for the interpreter of a replica that
// serves a Python Executor. The `shoal` package (python/shoal) is the API users import; `_shoal`
// is its native half.
#ifndef SHOAL_PYTHON_MODULE_H_
#define SHOAL_PYTHON_MODULE_H_

#include <pybind11/pybind11.h>

namespace shoal::python {

// Everything below, in one module.
void DefineModule(pybind11::module_& module);

// Documents: `_shoal.Doc` and `_shoal.DocList`, views over docarray's wire messages.
void DefineDocs(pybind11::module_& module);
// `_shoal.ExactNNIndex`: exact nearest-neighbour search over OpenBLAS.
void DefineIndex(pybind11::module_& module);
// `_shoal.Deployment`, `_shoal.Flow`, `_shoal.Client`: the C++ API.
void DefineApi(pybind11::module_& module);

}  // namespace shoal::python

#endif  // SHOAL_PYTHON_MODULE_H_
