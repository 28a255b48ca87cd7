#include "src/python/module.h"

namespace shoal::python {

void DefineIndex(pybind11::module_& module) {}

}  // namespace shoal::python
