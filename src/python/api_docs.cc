#include "src/python/api_docs.h"

#include <string>

#include "docarray.pb.h"

namespace py = pybind11;

namespace shoal::python {
namespace {

std::string TypeName(py::handle handle) {
  return py::str(py::type::handle_of(handle).attr("__qualname__"));
}

std::string ToBytes(py::handle handle, const char* expected) {
  if (py::isinstance<py::bytes>(handle)) return py::cast<std::string>(handle);
  if (!py::hasattr(handle, "to_bytes")) {
    throw py::type_error(std::string("expected ") + expected + ", got " + TypeName(handle));
  }
  return py::cast<std::string>(handle.attr("to_bytes")());
}

}  // namespace

const DocList& DocListArgument(py::handle handle, DocList& storage) {
  std::string bytes = ToBytes(handle, "_shoal.DocList");
  if (!storage.proto().ParseFromString(bytes)) {
    throw py::value_error("the documents are not a valid docarray.DocListProto");
  }
  return storage;
}

void CopyDocArgument(py::handle handle, Doc& doc) {
  std::string bytes = ToBytes(handle, "_shoal.Doc");
  if (!doc.proto().ParseFromString(bytes)) {
    throw py::value_error("the document is not a valid docarray.DocProto");
  }
}

py::object ToPythonDocList(DocList docs) {
  py::bytes bytes(docs.proto().SerializeAsString());
  py::module_ native = py::module_::import("_shoal");
  if (!py::hasattr(native, "DocList")) return bytes;
  return native.attr("DocList").attr("from_bytes")(bytes);
}

}  // namespace shoal::python
