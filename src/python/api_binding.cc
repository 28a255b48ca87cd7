#include "src/python/module.h"

namespace shoal::python {

void DefineApi(pybind11::module_& module) {}

}  // namespace shoal::python
