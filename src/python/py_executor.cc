// PyExecutor: loading through shoal.serve.runtime, and one call per request with the GIL held
// only for it. Documents reach Python as views over the request (doc_views.h); views that Python
// still holds when the call returns are detached from the request.
#include "src/python/py_executor.h"

#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "docarray.pb.h"
#include "google/protobuf/struct.pb.h"
#include "src/common/log.h"
#include "src/executor/exception.h"
#include "src/executor/registry.h"
#include "src/executor/request_state.h"
#include "src/python/doc_views.h"

namespace shoal::python {

namespace py = pybind11;

namespace {

constexpr char kResultsKey[] = "__results__";

py::object ValueToPython(const google::protobuf::Value& value);

py::dict StructToPython(const google::protobuf::Struct& object, const char* skip = nullptr) {
  py::dict dict;
  for (const auto& [key, value] : object.fields()) {
    if (skip != nullptr && key == skip) continue;
    dict[py::str(key)] = ValueToPython(value);
  }
  return dict;
}

py::object ValueToPython(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      // Struct numbers are doubles; whole ones come back as int, as JSON's would.
      const double number = value.number_value();
      if (std::trunc(number) == number && std::fabs(number) < 9007199254740992.0) {
        return py::int_(static_cast<long long>(number));
      }
      return py::float_(number);
    }
    case google::protobuf::Value::kStringValue:
      return py::str(value.string_value());
    case google::protobuf::Value::kBoolValue:
      return py::bool_(value.bool_value());
    case google::protobuf::Value::kStructValue:
      return StructToPython(value.struct_value());
    case google::protobuf::Value::kListValue: {
      py::list list;
      for (const google::protobuf::Value& item : value.list_value().values()) {
        list.append(ValueToPython(item));
      }
      return list;
    }
    default:
      return py::none();
  }
}

// A value returned in a result dict; TypeError for what JSON cannot hold.
void PythonToValue(py::handle object, google::protobuf::Value* out, int depth = 0) {
  if (depth > 100) throw py::value_error("the returned dict is nested more than 100 levels deep");
  PyObject* v = object.ptr();
  if (v == Py_None) {
    out->set_null_value(google::protobuf::NULL_VALUE);
  } else if (PyBool_Check(v)) {
    out->set_bool_value(v == Py_True);
  } else if (PyLong_Check(v) || PyFloat_Check(v)) {
    out->set_number_value(object.cast<double>());
  } else if (PyUnicode_Check(v)) {
    out->set_string_value(object.cast<std::string>());
  } else if (PyDict_Check(v)) {
    auto* fields = out->mutable_struct_value()->mutable_fields();
    for (auto [key, item] : py::reinterpret_borrow<py::dict>(object)) {
      PythonToValue(item, &(*fields)[py::str(key).cast<std::string>()], depth + 1);
    }
  } else if (PyList_Check(v) || PyTuple_Check(v)) {
    auto* list = out->mutable_list_value();
    for (py::handle item : object) PythonToValue(item, list->add_values(), depth + 1);
  } else if (py::hasattr(object, "item") && py::hasattr(object, "dtype")) {
    PythonToValue(object.attr("item")(), out, depth + 1);  // numpy scalars and 0-d arrays
  } else {
    throw py::type_error(absl::StrCat("a returned dict holds a value of type '",
                                      Py_TYPE(v)->tp_name,
                                      "', which parameters cannot carry (JSON values only)"));
  }
}

Status TypeErrorStatus(const std::string& message) {
  return executor::ExceptionStatus(
      {.name = "TypeError", .args = {message}, .description = "TypeError('" + message + "')"});
}

// The documents a method returned (a shoal.docarray DocList or a _shoal.DocList), or nullptr.
docarray::DocListProto* ReturnedDocs(py::handle result, std::shared_ptr<Root>* root) {
  py::handle handle = result;
  py::object inner;
  if (!py::isinstance<DocListView>(handle) && py::hasattr(result, "_docs")) {
    inner = result.attr("_docs");
    handle = inner;
  }
  if (!py::isinstance<DocListView>(handle)) return nullptr;
  const DocListView& view = handle.cast<const DocListView&>();
  *root = view.root();
  return view.proto();
}

// The request's docs become `returned`'s (a copy). The old ones are moved aside, not freed, when
// something Python still holds may point into them.
void ReplaceDocs(Root* request_root, docarray::DocListProto* docs,
                 const docarray::DocListProto& returned, bool returned_in_request) {
  docarray::DocListProto copy;
  const docarray::DocListProto* from = &returned;
  if (returned_in_request) {  // a part of the request itself (docs[0].matches): copy it out first
    copy = returned;
    from = &copy;
  }
  if (request_root != nullptr) RetireList(*request_root, docs);
  docs->CopyFrom(*from);
}

Status MergeResults(py::dict result, internal::RequestState& state) {
  if (state.results == nullptr) return absl::OkStatus();
  google::protobuf::Struct* mine =
      (*state.results->mutable_fields())[std::string(state.runtime_name)].mutable_struct_value();
  for (auto [key, value] : result) {
    PythonToValue(value, &(*mine->mutable_fields())[py::str(key).cast<std::string>()]);
  }
  return absl::OkStatus();
}

// Calls `name` of shoal.serve.runtime; the module is imported once.
py::object Runtime() {
  static py::handle module = py::module_::import("shoal.serve.runtime").release();  // leaked
  return py::reinterpret_borrow<py::object>(module);
}

// The calling thread keeps its Python thread state between calls (one allocation less per
// request than a fresh acquire).
void KeepThreadState() {
  thread_local bool kept = false;
  if (kept) return;
  py::gil_scoped_acquire keep;
  keep.inc_ref();
  kept = true;
}

py::list ToList(const std::vector<std::string>& items) {
  py::list list;
  for (const std::string& item : items) list.append(item);
  return list;
}

py::dict ToDict(const std::vector<std::pair<std::string, std::string>>& items) {
  py::dict dict;
  for (const auto& [key, value] : items) dict[py::str(key)] = value;
  return dict;
}

// The options @dynamic_batching put on an endpoint's method (a dict; None: not batched).
std::optional<BatchingOptions> BatchingOf(py::handle options) {
  if (options.is_none()) return std::nullopt;
  const auto dict = py::reinterpret_borrow<py::dict>(options);
  auto get = [&](const char* key) -> py::object {
    if (!dict.contains(key)) return py::none();
    return py::reinterpret_borrow<py::object>(dict[key]);
  };
  BatchingOptions batching;
  auto set_int = [&](const char* key, auto& field) {
    if (py::object value = get(key); !value.is_none()) field = value.cast<int64_t>();
  };
  set_int("preferred_batch_size", batching.preferred_batch_size);
  set_int("timeout", batching.timeout_ms);
  set_int("max_queue_delay", batching.max_queue_delay_us);
  set_int("max_batch_size", batching.max_batch_size);
  set_int("max_queue_size", batching.max_queue_size);
  if (py::object flush_all = get("flush_all"); !flush_all.is_none()) {
    batching.flush_all = flush_all.cast<bool>();
  }
  return batching;
}

}  // namespace

Status StatusFromPython(py::error_already_set& error) {
  try {
    py::tuple info = Runtime().attr("exception_info")(error.value(), error.trace());
    executor::ExceptionInfo exception;
    exception.name = info[0].cast<std::string>();
    exception.args = info[1].cast<std::vector<std::string>>();
    exception.stacks = info[2].cast<std::vector<std::string>>();
    exception.description = info[3].cast<std::string>();
    return executor::ExceptionStatus(exception);
  } catch (const std::exception& again) {
    return absl::InternalError(
        absl::StrCat(error.what(), " (and describing it: ", again.what(), ")"));
  }
}

StatusOr<executor::LoadedExecutor> PyExecutor::Load(const executor::PythonUses& uses) {
  py::gil_scoped_acquire gil;
  std::unique_ptr<PyExecutor> executor(new PyExecutor());
  auto cls = std::make_unique<executor::ExecutorClass>();
  cls->inline_calls = false;
  try {
    py::object hosted = Runtime().attr("load")(
        uses.uses, ToList(uses.modules), uses.class_name, ToList(uses.search_path),
        StructToPython(uses.with), uses.metas_name, uses.metas_workspace, uses.context.name,
        uses.context.workspace, ToDict(uses.requests));
    executor->instance_ = hosted.attr("instance");
    executor->class_name_ = hosted.attr("class_name").cast<std::string>();
    cls->name = executor->class_name_;
    size_t index = 0;
    for (py::handle endpoint : hosted.attr("endpoints")) {
      const bool is_generator = endpoint.attr("is_generator").cast<bool>();
      executor->endpoints_.push_back({endpoint.attr("method"), endpoint.attr("wrap"),
                                      endpoint.attr("pass_parameters").cast<bool>(),
                                      endpoint.attr("pass_parts").cast<bool>(), is_generator});
      internal::EndpointEntry entry;
      entry.name = endpoint.attr("name").cast<std::string>();
      entry.write = endpoint.attr("write").cast<bool>();
      if (is_generator) {
        entry.stream = [index](Executor& e, Request& r, DocWriter& out) {
          return static_cast<PyExecutor&>(e).CallStream(index, r, out);
        };
      } else {
        entry.fn = [index](Executor& e, Request& r) {
          return static_cast<PyExecutor&>(e).Call(index, r);
        };
      }
      entry.batching = BatchingOf(endpoint.attr("batching"));
      cls->endpoints.entries.push_back(std::move(entry));
      ++index;
    }
  } catch (py::error_already_set& error) {
    std::string message = error.what();
    try {
      message = Runtime().attr("describe_load_error")(error.value()).cast<std::string>();
    } catch (py::error_already_set&) {
      // shoal.serve.runtime itself did not import: Python's own message says why.
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot load Python Executor '%s': %s", uses.uses, message));
  }
  SHOAL_LOG_INFO("Python Executor %s with %d endpoint(s)", executor->class_name_,
                 executor->endpoints_.size());
  // The class entry lives as long as the process, as registered classes do.
  return executor::LoadedExecutor{std::move(executor), cls.release()};
}

PyExecutor::~PyExecutor() {
  py::gil_scoped_acquire gil;
  endpoints_.clear();
  instance_ = py::object();
}

Status PyExecutor::Call(size_t index, Request& request) {
  internal::RequestState& state = internal::RuntimeAccess::State(request);
  docarray::DocListProto* docs = &state.docs.proto();
  KeepThreadState();
  py::gil_scoped_acquire gil;
  const Endpoint& endpoint = endpoints_[index];
  // With the request's memory, Python gets views of it; without, a copy written back after.
  std::shared_ptr<Root> request_root;
  py::object handle = state.memory != nullptr ? RequestDocList(docs, state.memory, &request_root)
                                              : py::cast(DocListView::Owned(*docs));
  Status status;
  try {
    py::dict kwargs;
    kwargs["docs"] = endpoint.wrap(handle);
    if (endpoint.pass_parameters) {
      kwargs["parameters"] = StructToPython(state.params.proto(), kResultsKey);
    }
    if (endpoint.pass_parts && state.parts.size() > 1) {
      AddParts(endpoint, state, request_root, kwargs);
    }
    py::object result = endpoint.method(**kwargs);
    kwargs = py::dict();
    status = TakeResult(result, *handle.cast<const DocListView&>().proto(), request_root, state);
  } catch (py::error_already_set& error) {
    status = StatusFromPython(error);
  } catch (const std::exception& error) {  // a value pybind11 could not convert
    status = TypeErrorStatus(error.what());
  }
  handle = py::object();
  // What Python kept of the request (a stored doc) gets its own copy now.
  if (request_root != nullptr) request_root->DetachViews();
  return status;
}

namespace {

// The message of a yielded document (a shoal.docarray document or a _shoal.Doc), or nullptr.
const docarray::DocProto* YieldedDoc(py::handle item) {
  py::object inner;
  py::handle handle = item;
  if (!py::isinstance<DocView>(handle) && py::hasattr(item, "_doc")) {
    inner = item.attr("_doc");
    handle = inner;
  }
  if (!py::isinstance<DocView>(handle)) return nullptr;
  return handle.cast<const DocView&>().proto();
}

}  // namespace

Status PyExecutor::CallStream(size_t index, Request& request, DocWriter& out) {
  internal::RequestState& state = internal::RuntimeAccess::State(request);
  docarray::DocListProto* docs = &state.docs.proto();
  KeepThreadState();
  py::gil_scoped_acquire gil;
  const Endpoint& endpoint = endpoints_[index];
  std::shared_ptr<Root> request_root;
  py::object list = state.memory != nullptr ? RequestDocList(docs, state.memory, &request_root)
                                            : py::cast(DocListView::Owned(*docs));
  Status status;
  py::object iterator;
  try {
    py::dict kwargs;
    kwargs["doc"] = endpoint.wrap(list[py::int_(0)]);
    if (endpoint.pass_parameters) {
      kwargs["parameters"] = StructToPython(state.params.proto(), kResultsKey);
    }
    iterator = py::iter(endpoint.method(**kwargs));
    for (;;) {
      py::object item = py::reinterpret_steal<py::object>(PyIter_Next(iterator.ptr()));
      if (!item) {
        if (PyErr_Occurred()) throw py::error_already_set();
        break;
      }
      const docarray::DocProto* yielded = YieldedDoc(item);
      if (yielded == nullptr) {
        status =
            TypeErrorStatus(absl::StrCat(class_name_, " yielded a '", Py_TYPE(item.ptr())->tp_name,
                                         "'; a streaming endpoint yields documents (a BaseDoc)"));
        break;
      }
      docarray::DocProto copy = *yielded;
      item = py::object();
      bool written;
      {
        py::gil_scoped_release unlocked;  // Write waits while the client does not read
        written = out.Write(Doc(&copy));
      }
      if (!written) break;
    }
    if (py::hasattr(iterator, "close")) iterator.attr("close")();  // runs its finally blocks
  } catch (py::error_already_set& error) {
    status = StatusFromPython(error);
  } catch (const std::exception& error) {
    status = TypeErrorStatus(error.what());
  }
  iterator = py::object();
  list = py::object();
  if (request_root != nullptr) request_root->DetachViews();
  return status;
}

void PyExecutor::AddParts(const Endpoint& endpoint, const internal::RequestState& state,
                          const std::shared_ptr<Root>& request_root, py::dict& kwargs) {
  py::list matrix;
  py::dict by_origin;
  bool any = false;
  for (size_t i = 0; i < state.parts.size(); ++i) {
    docarray::DocListProto* part = state.parts[i];
    any = any || part->docs_size() > 0;
    py::object view = request_root != nullptr
                          ? py::cast(std::make_unique<DocListView>(request_root, part))
                          : py::cast(DocListView::Owned(*part));
    py::object docs = endpoint.wrap(view);
    matrix.append(docs);
    by_origin[py::str(std::string(state.part_origins[i]))] = docs;
  }
  kwargs["docs_matrix"] = any ? py::object(matrix) : py::none();  // None when all are empty
  kwargs["docs_map"] = by_origin;
}

Status PyExecutor::TakeResult(py::handle result, const docarray::DocListProto& given,
                              const std::shared_ptr<Root>& request_root,
                              internal::RequestState& state) const {
  docarray::DocListProto* docs = &state.docs.proto();
  std::shared_ptr<Root> returned_root;
  docarray::DocListProto* returned = ReturnedDocs(result, &returned_root);
  if (returned == nullptr && request_root == nullptr) docs->CopyFrom(given);  // the copy's edits
  if (result.is_none()) return absl::OkStatus();  // the docs were edited in place
  if (returned != nullptr) {
    if (returned != docs) {
      ReplaceDocs(request_root.get(), docs, *returned,
                  request_root != nullptr && returned_root == request_root);
    }
    return absl::OkStatus();
  }
  if (py::isinstance<py::dict>(result)) {
    return MergeResults(py::reinterpret_borrow<py::dict>(result), state);
  }
  return TypeErrorStatus(
      absl::StrCat(class_name_, " returned a '", Py_TYPE(result.ptr())->tp_name,
                   "'; an endpoint returns None (docs edited in place), a DocList or a dict"));
}

Status PyExecutor::CallFileMethod(const char* name, const std::filesystem::path& file) const {
  py::gil_scoped_acquire gil;
  if (!py::hasattr(instance_, name)) {
    return absl::UnimplementedError(
        absl::StrFormat("%s does not define %s(self, snapshot_file)", class_name_, name));
  }
  try {
    instance_.attr(name)(file.string());
  } catch (py::error_already_set& error) {
    Status status = StatusFromPython(error);
    return absl::InternalError(absl::StrFormat("%s.%s(): %s", class_name_, name, status.message()));
  }
  return absl::OkStatus();
}

Status PyExecutor::Snapshot(const std::filesystem::path& file) const {
  return CallFileMethod("snapshot", file);
}

Status PyExecutor::Restore(const std::filesystem::path& file) {
  return CallFileMethod("restore", file);
}

void PyExecutor::Close() {
  py::gil_scoped_acquire gil;
  try {
    if (py::hasattr(instance_, "close")) instance_.attr("close")();
  } catch (py::error_already_set& error) {
    SHOAL_LOG_WARNING("%s.close() raised: %s", class_name_, error.what());
  }
}

}  // namespace shoal::python
