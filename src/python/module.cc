#include "src/python/module.h"

namespace shoal::python {

void DefineModule(pybind11::module_& module) {
  module.doc() = "Shoal's native half: documents, the exact-NN index, Deployment, Flow, Client";
  module.attr("__version__") = SHOAL_VERSION;
  module.attr("shoal_binary") = SHOAL_BINARY_PATH;
  DefineDocs(module);
  DefineIndex(module);
  DefineApi(module);
}

}  // namespace shoal::python
