// `_shoal` as an extension module for a user's interpreter (PYTHONPATH=build/python).
#include "src/python/module.h"

PYBIND11_MODULE(_shoal, module) { shoal::python::DefineModule(module); }
