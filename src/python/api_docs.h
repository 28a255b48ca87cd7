// Documents crossing the Python API: `_shoal.DocList` / `_shoal.Doc` handles in, owned
// `_shoal.DocList` handles out.
#ifndef SHOAL_PYTHON_API_DOCS_H_
#define SHOAL_PYTHON_API_DOCS_H_

#include <pybind11/pybind11.h>

#include "shoal/doc.h"

namespace shoal::python {

// The documents of `handle` (a `_shoal.DocList`), read in place: `storage` becomes a view of the
// handle's message and is returned. TypeError naming the Python type for anything else.
const DocList& DocListArgument(pybind11::handle handle, DocList& storage);

// Copies the document `handle` (a `_shoal.Doc`) into `doc`. TypeError for anything else.
void CopyDocArgument(pybind11::handle handle, Doc& doc);

// A `_shoal.DocList` that owns `docs` (moved in, not copied).
pybind11::object ToPythonDocList(DocList docs);

}  // namespace shoal::python

#endif  // SHOAL_PYTHON_API_DOCS_H_
