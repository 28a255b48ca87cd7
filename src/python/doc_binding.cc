#include "src/python/module.h"

namespace shoal::python {

void DefineDocs(pybind11::module_& module) {}

}  // namespace shoal::python
