// Roots, views and the conversions between docarray's NodeProto and Python values.
#include "src/python/doc_views.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "shoal/doc.h"

namespace shoal::python {

namespace py = pybind11;

namespace {

// Deeper values are refused: docarray peers (and protobuf's parser) stop at 100 levels.
constexpr int kMaxDepth = 100;

std::string Quoted(std::string_view field) {
  return absl::StrCat("field '", std::string(field), "'");
}

[[noreturn]] void ThrowPython(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

py::module_ Numpy() { return py::module_::import("numpy"); }

// Keeps a Root alive (and counted) while a numpy array shares an ndarray's buffer.
struct ArrayKeeper {
  ArrayKeeper(std::shared_ptr<Root> root, const void* array) : root(std::move(root)), array(array) {
    this->root->AddArrayExport(array);
  }
  ~ArrayKeeper() { root->RemoveArrayExport(array); }
  std::shared_ptr<Root> root;
  const void* array;
};

std::string ShapeText(const docarray::DenseNdArrayProto& dense) {
  return absl::StrCat("[", absl::StrJoin(dense.shape(), ", "), "]");
}

py::object ArrayToPython(const std::shared_ptr<Root>& root, docarray::NdArrayProto* array,
                         std::string_view field) {
  const docarray::DenseNdArrayProto& dense = array->dense();
  py::dtype dtype;
  try {
    dtype = py::dtype(std::string(dense.dtype()));
  } catch (py::error_already_set&) {
    ThrowPython(PyExc_ValueError, absl::StrCat(Quoted(field), ": ndarray dtype '", dense.dtype(),
                                               "' is not a numpy dtype"));
  }
  if (dtype.attr("hasobject").cast<bool>()) {
    ThrowPython(PyExc_ValueError, absl::StrCat(Quoted(field), ": ndarray dtype '", dense.dtype(),
                                               "' holds Python objects; refused"));
  }
  if (dense.shape_size() > 32) {
    ThrowPython(PyExc_ValueError, absl::StrCat(Quoted(field), ": ndarray has ", dense.shape_size(),
                                               " dimensions; numpy allows 32"));
  }
  std::vector<py::ssize_t> shape(dense.shape().begin(), dense.shape().end());
  size_t bytes = static_cast<size_t>(dtype.itemsize());
  for (uint32_t dim : dense.shape()) {
    if (__builtin_mul_overflow(bytes, static_cast<size_t>(dim), &bytes)) {
      bytes = std::numeric_limits<size_t>::max();
    }
  }
  const std::string& buffer = dense.buffer();
  if (buffer.empty() && bytes > 0 && bytes < (size_t{1} << 40)) {
    // docarray decodes an array without a buffer as zeros.
    return Numpy().attr("zeros")(shape, dtype);
  }
  if (buffer.size() != bytes) {
    ThrowPython(
        PyExc_ValueError,
        absl::StrCat(Quoted(field), ": ndarray buffer holds ", buffer.size(), " bytes but shape ",
                     ShapeText(dense), " of dtype '", dense.dtype(), "' needs ",
                     bytes == std::numeric_limits<size_t>::max() ? std::string("more than 2^64")
                                                                 : std::to_string(bytes)));
  }
  if (bytes == 0) return Numpy().attr("empty")(shape, dtype);
  char* data = array->mutable_dense()->mutable_buffer()->data();
  if (reinterpret_cast<uintptr_t>(data) %
          static_cast<uintptr_t>(dtype.attr("alignment").cast<int>()) !=
      0) {
    return py::array(dtype, shape, data);  // no base: numpy copies the bytes
  }
  py::capsule base(new ArrayKeeper(root, array),
                   [](void* keeper) { delete static_cast<ArrayKeeper*>(keeper); });
  return py::array(dtype, shape, data, base);
}

void ArrayToNode(py::handle value, docarray::NodeProto* node, std::string_view field) {
  py::array array = py::array::ensure(value);
  if (!array) {
    if (PyErr_Occurred()) throw py::error_already_set();
    ThrowPython(PyExc_TypeError,
                absl::StrCat(Quoted(field), ": a value of type '", Py_TYPE(value.ptr())->tp_name,
                             "' does not convert to a numpy array"));
  }
  if (!(array.flags() & py::array::c_style)) array = py::array(array.attr("copy")("C"));
  if (array.dtype().attr("hasobject").cast<bool>()) {
    ThrowPython(PyExc_TypeError,
                absl::StrCat(Quoted(field), ": numpy arrays of Python objects cannot be stored"));
  }
  docarray::DenseNdArrayProto* dense = node->mutable_ndarray()->mutable_dense();
  dense->set_dtype(array.dtype().attr("str").cast<std::string>());
  for (py::ssize_t i = 0; i < array.ndim(); ++i) {
    if (array.shape(i) > std::numeric_limits<uint32_t>::max()) {
      ThrowPython(PyExc_ValueError, absl::StrCat(Quoted(field), ": dimension ", i, " of size ",
                                                 array.shape(i), " exceeds 2^32-1"));
    }
    dense->add_shape(static_cast<uint32_t>(array.shape(i)));
  }
  dense->set_buffer(static_cast<const char*>(array.data()), static_cast<size_t>(array.nbytes()));
  node->set_type(kNdArrayType.data(), kNdArrayType.size());
}

void ValueToNode(py::handle value, docarray::NodeProto* node, std::string_view field, int depth);

void ItemsToList(py::handle items, docarray::ListOfAnyProto* list, std::string_view field,
                 int depth) {
  for (py::handle item : items) ValueToNode(item, list->add_data(), field, depth + 1);
}

void DictToNode(py::dict dict, docarray::DictOfAnyProto* out, std::string_view field, int depth) {
  for (auto [key, item] : dict) {
    if (!PyUnicode_Check(key.ptr())) {
      ThrowPython(PyExc_TypeError, absl::StrCat(Quoted(field), ": dict keys must be str, not '",
                                                Py_TYPE(key.ptr())->tp_name, "'"));
    }
    ValueToNode(item, &(*out->mutable_data())[key.cast<std::string>()], field, depth + 1);
  }
}

void IntToNode(py::handle value, docarray::NodeProto* node, std::string_view field) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow != 0 || v < std::numeric_limits<int32_t>::min() ||
      v > std::numeric_limits<int32_t>::max()) {
    ThrowPython(PyExc_OverflowError,
                absl::StrCat(Quoted(field), ": ", py::str(value).cast<std::string>(),
                             " does not fit docarray's int32 integers"));
  }
  node->set_integer(static_cast<int32_t>(v));
}

// Documents and lists given directly or wrapped (shoal.docarray's BaseDoc._doc, DocList._docs).
bool DocsToNode(py::handle value, docarray::NodeProto* node) {
  if (py::isinstance<DocView>(value)) {
    *node->mutable_doc() = *value.cast<DocView&>().proto();
    return true;
  }
  if (py::isinstance<DocListView>(value)) {
    *node->mutable_doc_array() = *value.cast<DocListView&>().proto();
    return true;
  }
  for (const char* attr : {"_doc", "_docs"}) {
    if (py::hasattr(value, attr)) {
      py::object inner = value.attr(attr);
      if (py::isinstance<DocView>(inner) || py::isinstance<DocListView>(inner)) {
        return DocsToNode(inner, node);
      }
    }
  }
  return false;
}

void ValueToNode(py::handle value, docarray::NodeProto* node, std::string_view field, int depth) {
  if (depth > kMaxDepth) {
    ThrowPython(PyExc_ValueError, absl::StrCat(Quoted(field), ": value nested more than ",
                                               kMaxDepth, " levels deep"));
  }
  PyObject* v = value.ptr();
  if (v == Py_None) return;
  if (PyBool_Check(v)) return node->set_boolean(v == Py_True);
  if (PyLong_Check(v)) return IntToNode(value, node, field);
  if (PyFloat_Check(v)) return node->set_float_(PyFloat_AS_DOUBLE(v));
  if (PyUnicode_Check(v)) {
    Py_ssize_t size = 0;
    const char* text = PyUnicode_AsUTF8AndSize(v, &size);
    if (text == nullptr) throw py::error_already_set();
    return node->set_text(text, static_cast<size_t>(size));
  }
  if (PyBytes_Check(v)) {
    return node->set_blob(PyBytes_AS_STRING(v), static_cast<size_t>(PyBytes_GET_SIZE(v)));
  }
  if (PyByteArray_Check(v)) {
    return node->set_blob(PyByteArray_AS_STRING(v), static_cast<size_t>(PyByteArray_GET_SIZE(v)));
  }
  if (PyList_Check(v)) return ItemsToList(value, node->mutable_list(), field, depth);
  if (PyTuple_Check(v)) return ItemsToList(value, node->mutable_tuple(), field, depth);
  if (PyAnySet_Check(v)) return ItemsToList(value, node->mutable_set(), field, depth);
  if (PyDict_Check(v)) {
    return DictToNode(py::reinterpret_borrow<py::dict>(value), node->mutable_dict(), field, depth);
  }
  if (py::isinstance<py::array>(value)) return ArrayToNode(value, node, field);
  if (DocsToNode(value, node)) return;
  if (py::hasattr(value, "__array__")) {
    if (py::isinstance(value, Numpy().attr("generic"))) {  // numpy scalars become plain values
      return ValueToNode(value.attr("item")(), node, field, depth + 1);
    }
    return ArrayToNode(value, node, field);
  }
  ThrowPython(PyExc_TypeError,
              absl::StrCat(Quoted(field), ": cannot store a value of type '", Py_TYPE(v)->tp_name,
                           "' (expected str, bool, int, float, bytes, None, a numpy array, Doc, "
                           "DocList, list, tuple, set or dict)"));
}

template <typename Container>
Container ListToPython(const std::shared_ptr<Root>& root, docarray::ListOfAnyProto* list,
                       std::string_view field) {
  py::list items(list->data_size());
  for (int i = 0; i < list->data_size(); ++i) {
    items[i] = NodeToPython(root, list->mutable_data(i), field);
  }
  return Container(items);
}

bool IsContainer(const docarray::NodeProto& node) {
  switch (node.content_case()) {
    case docarray::NodeProto::kDoc:
    case docarray::NodeProto::kDocArray:
    case docarray::NodeProto::kList:
    case docarray::NodeProto::kSet:
    case docarray::NodeProto::kTuple:
    case docarray::NodeProto::kDict:
      return true;
    default:
      return false;
  }
}

// Makes `message` empty for a rewrite. Its content is moved aside instead of freed when a live
// view or numpy array may point into it: on an arena it stays there (the Root keeps the arena's
// owner alive); on the heap the Root keeps it.
template <typename Message>
void Retire(Root& root, Message* message, bool keep) {
  if (!keep) {
    message->Clear();
    return;
  }
  google::protobuf::Arena* arena = message->GetArena();
  Message* keeper = google::protobuf::Arena::CreateMessage<Message>(arena);
  keeper->Swap(message);  // same arena: pointers change hands, nothing is copied
  if (arena == nullptr) root.Bury(std::unique_ptr<google::protobuf::Message>(keeper));
}

void RetireNode(Root& root, docarray::NodeProto* node) {
  bool keep = false;
  if (node->has_ndarray()) {
    keep = root.IsArrayExported(&node->ndarray());
  } else if (IsContainer(*node)) {
    keep = root.live() > 1;  // some other view may point below this node
  }
  Retire(root, node, keep);
}

}  // namespace

void Root::Link(View* view) {
  view->prev = views_.prev;
  view->next = &views_;
  views_.prev->next = view;
  views_.prev = view;
  ++live_;
}

void Root::Unlink(View* view) {
  view->prev->next = view->next;
  view->next->prev = view->prev;
  view->prev = view->next = nullptr;
  --live_;
}

void Root::AddArrayExport(const void* array) {
  ++array_exports_[array];
  ++live_;
}

void Root::RemoveArrayExport(const void* array) {
  auto it = array_exports_.find(array);
  if (it != array_exports_.end() && --it->second == 0) array_exports_.erase(it);
  --live_;
}

void Root::DetachViews() {
  for (ViewLink* link = views_.next; link != &views_;) {
    ViewLink* next = link->next;
    static_cast<View*>(link)->Detach();
    link = next;
  }
}

View::View(std::shared_ptr<Root> root) : root_(std::move(root)) { root_->Link(this); }

View::~View() { root_->Unlink(this); }

void View::Rehome(std::shared_ptr<Root> root) {
  root_->Unlink(this);
  root_ = std::move(root);
  root_->Link(this);
}

std::unique_ptr<DocView> DocView::Owned(docarray::DocProto message) {
  auto owned = std::make_shared<docarray::DocProto>(std::move(message));
  docarray::DocProto* proto = owned.get();
  return std::make_unique<DocView>(std::make_shared<Root>(std::move(owned)), proto);
}

void DocView::Detach() {
  auto owned = std::make_shared<docarray::DocProto>(*proto_);
  proto_ = owned.get();
  Rehome(std::make_shared<Root>(std::move(owned)));
}

std::unique_ptr<DocListView> DocListView::Owned(docarray::DocListProto message) {
  auto owned = std::make_shared<docarray::DocListProto>(std::move(message));
  docarray::DocListProto* proto = owned.get();
  return std::make_unique<DocListView>(std::make_shared<Root>(std::move(owned)), proto);
}

void DocListView::Detach() {
  auto owned = std::make_shared<docarray::DocListProto>(*proto_);
  proto_ = owned.get();
  Rehome(std::make_shared<Root>(std::move(owned)));
}

py::object NodeToPython(const std::shared_ptr<Root>& root, docarray::NodeProto* node,
                        std::string_view field) {
  switch (node->content_case()) {
    case docarray::NodeProto::CONTENT_NOT_SET:
      return py::none();
    case docarray::NodeProto::kText:
      return py::str(node->text());
    case docarray::NodeProto::kInteger:
      return py::int_(node->integer());
    case docarray::NodeProto::kFloat:
      return py::float_(node->float_());
    case docarray::NodeProto::kBoolean:
      return py::bool_(node->boolean());
    case docarray::NodeProto::kBlob:
      return py::bytes(node->blob());
    case docarray::NodeProto::kNdarray:
      return ArrayToPython(root, node->mutable_ndarray(), field);
    case docarray::NodeProto::kDoc:
      return py::cast(std::make_unique<DocView>(root, node->mutable_doc()));
    case docarray::NodeProto::kDocArray:
      return py::cast(std::make_unique<DocListView>(root, node->mutable_doc_array()));
    case docarray::NodeProto::kList:
      return ListToPython<py::list>(root, node->mutable_list(), field);
    case docarray::NodeProto::kTuple:
      return ListToPython<py::tuple>(root, node->mutable_tuple(), field);
    case docarray::NodeProto::kSet:
      return ListToPython<py::set>(root, node->mutable_set(), field);
    case docarray::NodeProto::kDict: {
      py::dict dict;
      for (auto& [key, item] : *node->mutable_dict()->mutable_data()) {
        dict[py::str(key)] = NodeToPython(root, &item, field);
      }
      return dict;
    }
  }
  return py::none();
}

void PythonToNode(py::handle value, docarray::NodeProto* node, std::string_view field) {
  ValueToNode(value, node, field, 0);
}

void SetField(DocView& doc, std::string_view field, py::handle value, std::string_view type_tag) {
  // The new value is built aside first: a failed conversion leaves the field as it was, and a
  // value read from this very document is copied before the field changes.
  google::protobuf::Arena* arena = doc.proto()->GetArena();
  auto* fresh = google::protobuf::Arena::CreateMessage<docarray::NodeProto>(arena);
  std::unique_ptr<docarray::NodeProto> heap(arena == nullptr ? fresh : nullptr);
  PythonToNode(value, fresh, field);
  if (!type_tag.empty()) fresh->set_type(type_tag.data(), type_tag.size());
  docarray::NodeProto* target = &(*doc.proto()->mutable_data())[std::string(field)];
  RetireNode(*doc.root(), target);
  target->Swap(fresh);
}

void EraseField(DocView& doc, std::string_view field) {
  auto* data = doc.proto()->mutable_data();
  auto it = data->find(std::string(field));
  if (it == data->end()) return;
  RetireNode(*doc.root(), &it->second);
  data->erase(it);
}

void ClearList(DocListView& list) {
  Retire(*list.root(), list.proto(), list.root()->live() > 1 && list.proto()->docs_size() > 0);
}

void RetireList(Root& root, docarray::DocListProto* list) {
  Retire(root, list, root.live() > 0 && list->docs_size() > 0);
}

py::object RequestDocList(docarray::DocListProto* docs, std::shared_ptr<const void> memory,
                          std::shared_ptr<Root>* root) {
  *root = std::make_shared<Root>(std::move(memory));
  return py::cast(std::make_unique<DocListView>(*root, docs));
}

docarray::DocListProto* DocListProtoOf(py::handle object) {
  if (!py::isinstance<DocListView>(object)) return nullptr;
  return object.cast<DocListView&>().proto();
}

}  // namespace shoal::python
