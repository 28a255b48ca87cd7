// `_shoal.Doc` and `_shoal.DocList`: Python's view of docarray's wire messages (doc_views.h).
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shoal/doc.h"
#include "src/python/doc_views.h"
#include "src/python/module.h"

namespace shoal::python {

namespace py = pybind11;

namespace {

docarray::NodeProto* FindNode(const DocView& doc, const std::string& field) {
  auto* data = doc.proto()->mutable_data();
  auto it = data->find(field);
  return it == data->end() ? nullptr : &it->second;
}

docarray::NodeProto& NodeOrKeyError(const DocView& doc, const std::string& field) {
  docarray::NodeProto* node = FindNode(doc, field);
  if (node == nullptr) throw py::key_error(field);
  return *node;
}

const char* ContentName(const docarray::NodeProto& node) {
  switch (node.content_case()) {
    case docarray::NodeProto::kText:
      return "text";
    case docarray::NodeProto::kInteger:
      return "an integer";
    case docarray::NodeProto::kFloat:
      return "a float";
    case docarray::NodeProto::kBoolean:
      return "a boolean";
    case docarray::NodeProto::kBlob:
      return "bytes";
    case docarray::NodeProto::kNdarray:
      return "an ndarray";
    case docarray::NodeProto::kDoc:
      return "a document";
    case docarray::NodeProto::kDocArray:
      return "a document list";
    case docarray::NodeProto::kList:
      return "a list";
    case docarray::NodeProto::kSet:
      return "a set";
    case docarray::NodeProto::kTuple:
      return "a tuple";
    case docarray::NodeProto::kDict:
      return "a dict";
    case docarray::NodeProto::CONTENT_NOT_SET:
      break;
  }
  return "None";
}

std::unique_ptr<DocView> NestedDoc(const DocView& doc, const std::string& field) {
  docarray::NodeProto* node = &(*doc.proto()->mutable_data())[field];
  if (!node->has_doc() && node->content_case() != docarray::NodeProto::CONTENT_NOT_SET) {
    throw py::type_error(
        absl::StrCat("field '", field, "' holds ", ContentName(*node), ", not a document"));
  }
  return std::make_unique<DocView>(doc.root(), node->mutable_doc());
}

std::unique_ptr<DocListView> NestedList(const DocView& doc, const std::string& field) {
  docarray::NodeProto* node = &(*doc.proto()->mutable_data())[field];
  if (!node->has_doc_array() && node->content_case() != docarray::NodeProto::CONTENT_NOT_SET) {
    throw py::type_error(
        absl::StrCat("field '", field, "' holds ", ContentName(*node), ", not a document list"));
  }
  return std::make_unique<DocListView>(doc.root(), node->mutable_doc_array());
}

template <typename Message>
Message Parse(py::bytes bytes, const char* what) {
  std::string_view data(bytes);
  Message message;
  if (!message.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    throw py::value_error(absl::StrCat("not a serialized ", what, " (", data.size(), " bytes)"));
  }
  return message;
}

template <typename Message>
py::bytes Serialize(const Message& message) {
  return py::bytes(message.SerializeAsString());
}

size_t CheckedIndex(const DocListView& list, py::ssize_t i) {
  const py::ssize_t n = list.proto()->docs_size();
  if (i < 0) i += n;
  if (i < 0 || i >= n)
    throw py::index_error(absl::StrCat("DocList index out of range (len ", n, ")"));
  return static_cast<size_t>(i);
}

std::unique_ptr<DocView> Element(const DocListView& list, py::ssize_t i) {
  return std::make_unique<DocView>(
      list.root(), list.proto()->mutable_docs(static_cast<int>(CheckedIndex(list, i))));
}

// Appends a copy of `doc`; a doc of the same tree (perhaps an ancestor) is copied aside first.
std::unique_ptr<DocView> AppendCopy(DocListView& list, const DocView& doc) {
  docarray::DocProto* added;
  if (doc.root() == list.root()) {
    docarray::DocProto copy = *doc.proto();
    added = list.proto()->add_docs();
    *added = std::move(copy);
  } else {
    added = list.proto()->add_docs();
    *added = *doc.proto();
  }
  return std::make_unique<DocView>(list.root(), added);
}

void ExtendCopy(DocListView& list, const DocListView& other) {
  if (other.root() == list.root()) {
    docarray::DocListProto copy = *other.proto();
    list.proto()->MergeFrom(copy);
  } else {
    list.proto()->MergeFrom(*other.proto());
  }
}

std::unique_ptr<DocListView> Take(const DocListView& list,
                                  const std::vector<py::ssize_t>& indices) {
  docarray::DocListProto taken;
  taken.mutable_docs()->Reserve(static_cast<int>(indices.size()));
  for (py::ssize_t i : indices) {
    *taken.add_docs() = list.proto()->docs(static_cast<int>(CheckedIndex(list, i)));
  }
  return DocListView::Owned(std::move(taken));
}

// Iterates a list by index, so that appending while iterating is well defined.
struct DocListIterator {
  py::object list;
  py::ssize_t next = 0;
};

std::vector<std::string> Fields(const DocView& doc) {
  std::vector<std::string> fields;
  fields.reserve(doc.proto()->data_size());
  for (const auto& [key, node] : doc.proto()->data()) fields.push_back(key);
  std::sort(fields.begin(), fields.end());
  return fields;
}

void DefineDoc(py::module_& module) {
  py::class_<DocView>(module, "Doc",
                      "One document: a view over a docarray.DocProto (fields by name).")
      .def(py::init([] { return DocView::Owned(); }))
      .def_property(
          "id", [](const DocView& d) { return std::string(Doc(d.proto()).id()); },
          [](const DocView& d, const std::string& id) { Doc(d.proto()).set_id(id); })
      .def(
          "get",
          [](const DocView& d, const std::string& field) {
            return NodeToPython(d.root(), &NodeOrKeyError(d, field), field);
          },
          py::arg("name"))
      // The same, with `default` for an absent field instead of a KeyError (a thrown exception
      // costs microseconds; documents read absent fields often).
      .def(
          "get",
          [](const DocView& d, const std::string& field, py::object default_value) {
            docarray::NodeProto* node = FindNode(d, field);
            if (node == nullptr) return default_value;
            return NodeToPython(d.root(), node, field);
          },
          py::arg("name"), py::arg("default"))
      .def(
          "set",
          [](DocView& d, const std::string& field, py::handle value, const std::string& type_tag) {
            SetField(d, field, value, type_tag);
          },
          py::arg("name"), py::arg("value"), py::arg("type_tag") = "")
      .def(
          "has", [](const DocView& d, const std::string& f) { return FindNode(d, f) != nullptr; },
          py::arg("name"))
      .def(
          "erase", [](DocView& d, const std::string& field) { EraseField(d, field); },
          py::arg("name"))
      .def("fields", &Fields)
      .def(
          "type_tag",
          [](const DocView& d, const std::string& field) {
            return NodeOrKeyError(d, field).type();
          },
          py::arg("name"))
      .def("doc", &NestedDoc, py::arg("name"))
      .def("doc_list", &NestedList, py::arg("name"))
      .def("copy", [](const DocView& d) { return DocView::Owned(*d.proto()); })
      .def("__copy__", [](const DocView& d) { return DocView::Owned(*d.proto()); })
      .def("__deepcopy__", [](const DocView& d, py::handle) { return DocView::Owned(*d.proto()); })
      .def("to_bytes", [](const DocView& d) { return Serialize(*d.proto()); })
      .def_static(
          "from_bytes",
          [](py::bytes b) {
            return DocView::Owned(Parse<docarray::DocProto>(b, "docarray.DocProto"));
          },
          py::arg("data"))
      .def(py::pickle([](const DocView& d) { return py::make_tuple(Serialize(*d.proto())); },
                      [](py::tuple t) {
                        return DocView::Owned(
                            Parse<docarray::DocProto>(t[0].cast<py::bytes>(), "docarray.DocProto"));
                      }))
      .def("__repr__", [](const DocView& d) {
        return absl::StrCat("<_shoal.Doc id='", std::string(Doc(d.proto()).id()),
                            "' fields=", py::repr(py::cast(Fields(d))).cast<std::string>(), ">");
      });
}

void DefineDocList(py::module_& module) {
  py::class_<DocListIterator>(module, "_DocListIterator")
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", [](DocListIterator& it) {
        const DocListView& list = it.list.cast<const DocListView&>();
        if (it.next >= list.proto()->docs_size()) throw py::stop_iteration();
        return Element(list, it.next++);
      });
  py::class_<DocListView>(module, "DocList",
                          "An ordered list of documents: a view over a docarray.DocListProto.")
      .def(py::init([] { return DocListView::Owned(); }))
      .def("__len__", [](const DocListView& l) { return l.proto()->docs_size(); })
      .def("__getitem__", &Element, py::arg("index"))
      .def("__iter__", [](py::object self) { return DocListIterator{std::move(self)}; })
      .def("append", &AppendCopy, py::arg("doc"))
      .def("add",
           [](const DocListView& l) {
             return std::make_unique<DocView>(l.root(), &DocList(l.proto()).Add().proto());
           })
      .def("extend", &ExtendCopy, py::arg("other"))
      .def("clear", &ClearList)
      .def("copy", [](const DocListView& l) { return DocListView::Owned(*l.proto()); })
      .def("__copy__", [](const DocListView& l) { return DocListView::Owned(*l.proto()); })
      .def("__deepcopy__",
           [](const DocListView& l, py::handle) { return DocListView::Owned(*l.proto()); })
      .def("take", &Take, py::arg("indices"))
      .def("to_bytes", [](const DocListView& l) { return Serialize(*l.proto()); })
      .def_static(
          "from_bytes",
          [](py::bytes b) {
            return DocListView::Owned(Parse<docarray::DocListProto>(b, "docarray.DocListProto"));
          },
          py::arg("data"))
      .def(py::pickle([](const DocListView& l) { return py::make_tuple(Serialize(*l.proto())); },
                      [](py::tuple t) {
                        return DocListView::Owned(Parse<docarray::DocListProto>(
                            t[0].cast<py::bytes>(), "docarray.DocListProto"));
                      }))
      .def("__repr__", [](const DocListView& l) {
        return absl::StrCat("<_shoal.DocList len=", l.proto()->docs_size(), ">");
      });
}

}  // namespace

void DefineDocs(py::module_& module) {
  DefineDoc(module);
  DefineDocList(module);
}

}  // namespace shoal::python
