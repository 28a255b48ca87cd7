#include "src/python/api_docs.h"

#include <string>
#include <utility>

#include "docarray.pb.h"
#include "src/python/doc_views.h"

namespace py = pybind11;

namespace shoal::python {
namespace {

std::string TypeName(py::handle handle) {
  return py::str(py::type::handle_of(handle).attr("__qualname__"));
}

}  // namespace

const DocList& DocListArgument(py::handle handle, DocList& storage) {
  docarray::DocListProto* proto = DocListProtoOf(handle);
  if (proto == nullptr) {
    throw py::type_error("expected a _shoal.DocList, got " + TypeName(handle));
  }
  storage = DocList(proto);
  return storage;
}

void CopyDocArgument(py::handle handle, Doc& doc) {
  if (!py::isinstance<DocView>(handle)) {
    throw py::type_error("expected a _shoal.Doc, got " + TypeName(handle));
  }
  doc.proto() = *py::cast<const DocView&>(handle).proto();
}

py::object ToPythonDocList(DocList docs) {
  return py::cast(DocListView::Owned(std::move(docs.proto())));
}

}  // namespace shoal::python
