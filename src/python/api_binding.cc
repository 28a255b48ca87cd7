// `_shoal.Deployment`, `_shoal.Flow`, `_shoal.Client`: the C++ API (include/shoal/) for the
// `shoal` package (python/shoal/orchestrate.py, client.py), which maps Jina's keyword arguments
// onto the option dicts these take. Every blocking call releases the GIL; a non-OK Status
// becomes a Python exception carrying its message.
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <utility>

#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/flow.h"
#include "src/python/api_docs.h"
#include "src/python/api_options.h"
#include "src/python/doc_views.h"
#include "src/python/module.h"

namespace py = pybind11;

namespace shoal::python {
namespace {

// `_shoal.BadServer`: an Executor answered with an error nobody handled (Jina's name).
PyObject* bad_server_error = nullptr;

// Raises the Python exception for `status`: ValueError for bad arguments, FileNotFoundError
// for a missing file, ConnectionError when the server cannot be reached (Jina's client rule),
// BadServer for an Executor error, RuntimeError otherwise.
[[noreturn]] void Raise(const Status& status) {
  PyObject* type = PyExc_RuntimeError;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      type = PyExc_ValueError;
      break;
    case absl::StatusCode::kNotFound:
      type = PyExc_FileNotFoundError;
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      type = PyExc_ConnectionError;
      break;
    case absl::StatusCode::kUnknown:
      type = bad_server_error;
      break;
    default:
      break;
  }
  PyErr_SetString(type, std::string(status.message()).c_str());
  throw py::error_already_set();
}

// Runs `call` with the GIL released, then raises its error with the GIL held again.
template <typename Call>
void CheckWithoutGil(Call call) {
  Status status;
  {
    py::gil_scoped_release release;
    status = call();
  }
  if (!status.ok()) Raise(status);
}

// Re-raises what a callback or an input generator raised during a Post.
void RethrowCallbackError(PythonPostOptions& post) {
  if (!post.errors->first.has_value()) return;
  py::error_already_set error = std::move(*post.errors->first);
  post.errors->first.reset();
  throw error;
}

// Posts `inputs` (a `_shoal.DocList`) with `post(docs, options)`, the GIL released.
template <typename PostFn>
py::object PostDocList(py::handle inputs, const py::dict& options, PostFn post) {
  std::unique_ptr<PythonPostOptions> python_options = ToPostOptions(options);
  DocList storage;
  const DocList& docs = DocListArgument(inputs, storage);
  StatusOr<DocList> result = absl::UnknownError("not posted");
  {
    py::gil_scoped_release release;
    result = post(docs, python_options->options);
  }
  RethrowCallbackError(*python_options);
  if (!result.ok()) Raise(result.status());
  return ToPythonDocList(std::move(result).value());
}

// Reads `_shoal.Doc` handles from a Python iterator, one per call, with the GIL held.
DocGenerator IteratorInputs(std::shared_ptr<py::object> iterator,
                            std::shared_ptr<CallbackErrors> errors) {
  return [iterator = std::move(iterator), errors = std::move(errors)](Doc& doc) -> bool {
    py::gil_scoped_acquire gil;
    if (errors->first.has_value()) return false;
    try {
      py::object item = py::reinterpret_steal<py::object>(PyIter_Next(iterator->ptr()));
      if (!item) {
        if (PyErr_Occurred() != nullptr) throw py::error_already_set();
        return false;
      }
      CopyDocArgument(item, doc);
      return true;
    } catch (py::error_already_set& e) {
      errors->first.emplace(std::move(e));
    } catch (const py::builtin_exception& e) {
      e.set_error();
      errors->first.emplace();
    }
    return false;
  };
}

py::object PostIterator(Client& client, const std::string& on, py::handle inputs,
                        const py::dict& options) {
  std::unique_ptr<PythonPostOptions> python_options = ToPostOptions(options);
  auto iterator = std::make_shared<py::object>(py::iter(inputs));
  python_options->keep.push_back(iterator);
  DocGenerator generator = IteratorInputs(iterator, python_options->errors);
  StatusOr<DocList> result = absl::UnknownError("not posted");
  {
    py::gil_scoped_release release;
    result = client.Post(on, std::move(generator), python_options->options);
  }
  RethrowCallbackError(*python_options);
  if (!result.ok()) Raise(result.status());
  return ToPythonDocList(std::move(result).value());
}

// Client.stream_doc: calls `callback` with an owned `_shoal.Doc` per document as it arrives
// (the GIL released in between); a callback that returns False stops the stream, one that
// raises stops it and the exception is raised here.
void StreamDoc(Client& client, const std::string& on, py::handle doc,
               const std::string& parameters_json, int timeout_ms, py::function callback) {
  DocList storage;
  Doc input = storage.Add();
  CopyDocArgument(doc, input);
  std::string error;
  std::optional<Params> parameters = Params::FromJson(parameters_json, &error);
  if (!parameters.has_value()) throw py::value_error("parameters: " + error);
  std::optional<py::error_already_set> raised;
  StreamDocOptions options{.parameters = *std::move(parameters),
                           .timeout = std::chrono::milliseconds(timeout_ms)};
  Status status;
  {
    py::gil_scoped_release release;
    status = client.StreamDoc(
        on, input,
        [&](const Doc& received) {
          py::gil_scoped_acquire gil;
          try {
            return py::cast<bool>(callback(py::cast(DocView::Owned(received.proto()))));
          } catch (py::error_already_set& e) {
            raised.emplace(std::move(e));
          }
          return false;
        },
        options);
  }
  if (raised.has_value()) throw std::move(*raised);
  if (!status.ok()) Raise(status);
}

void DefineResponse(py::module_& module) {
  py::class_<ResponseSnapshot>(module, "Response",
                               "One answer, as on_done/on_error/on_always callbacks get it")
      .def_readonly("ok", &ResponseSnapshot::ok)
      .def_readonly("request_id", &ResponseSnapshot::request_id)
      .def_readonly("error", &ResponseSnapshot::error)
      .def_readonly("exception_name", &ResponseSnapshot::exception_name)
      .def_readonly("docs", &ResponseSnapshot::docs)
      .def_readonly("parameters_json", &ResponseSnapshot::parameters);
}

void DefineDeployment(py::module_& module) {
  py::class_<Deployment>(module, "Deployment")
      .def(py::init([](const py::dict& options) {
             return std::make_unique<Deployment>(ToDeploymentOptions(options));
           }),
           py::arg("options"))
      .def_static(
          "load_config",
          [](const std::string& path) {
            StatusOr<Deployment> loaded = Deployment::FromYaml(path);
            if (!loaded.ok()) Raise(loaded.status());
            return std::make_unique<Deployment>(std::move(loaded).value());
          },
          py::arg("path"))
      .def("start", [](Deployment& d) { CheckWithoutGil([&] { return d.Start(); }); })
      .def("stop", &Deployment::Stop, py::call_guard<py::gil_scoped_release>())
      .def(
          "post",
          [](Deployment& d, const std::string& on, py::handle inputs, const py::dict& options) {
            return PostDocList(inputs, options, [&](const DocList& docs, const PostOptions& o) {
              return d.Post(on, docs, o);
            });
          },
          py::arg("on"), py::arg("inputs"), py::arg("options") = py::dict())
      .def("scale",
           [](Deployment& d, int replicas) { CheckWithoutGil([&] { return d.Scale(replicas); }); })
      .def(
          "update",
          [](Deployment& d, const py::dict& options) {
            const DeploymentOptions o = ToDeploymentOptions(options);
            CheckWithoutGil([&] { return d.Update(o); });
          },
          py::arg("options"))
      .def_property_readonly("port", &Deployment::port)
      .def("replica_addresses", &Deployment::replica_addresses)
      .def("replica_pid", &Deployment::replica_pid, py::arg("shard"), py::arg("replica"));
}

void DefineFlow(py::module_& module) {
  py::class_<Flow>(module, "Flow")
      .def(py::init([](const py::dict& options) {
             return std::make_unique<Flow>(ToFlowOptions(options));
           }),
           py::arg("options"))
      .def_static(
          "load_config",
          [](const std::string& path) {
            StatusOr<Flow> loaded = Flow::FromYaml(path);
            if (!loaded.ok()) Raise(loaded.status());
            return std::make_unique<Flow>(std::move(loaded).value());
          },
          py::arg("path"))
      .def("add", [](Flow& f, const py::dict& options) { f.Add(ToDeploymentOptions(options)); })
      .def(
          "needs_all", [](Flow& f, const std::string& name) { f.NeedsAll(name); },
          py::arg("name") = "joiner")
      .def("start", [](Flow& f) { CheckWithoutGil([&] { return f.Start(); }); })
      .def("stop", &Flow::Stop, py::call_guard<py::gil_scoped_release>())
      .def(
          "post",
          [](Flow& f, const std::string& on, py::handle inputs, const py::dict& options) {
            return PostDocList(inputs, options, [&](const DocList& docs, const PostOptions& o) {
              return f.Post(on, docs, o);
            });
          },
          py::arg("on"), py::arg("inputs"), py::arg("options") = py::dict())
      .def("scale", [](Flow& f, const std::string& name,
                       int replicas) { CheckWithoutGil([&] { return f.Scale(name, replicas); }); })
      .def(
          "update",
          [](Flow& f, const std::string& name, const py::dict& options) {
            const DeploymentOptions o = ToDeploymentOptions(options);
            CheckWithoutGil([&] { return f.Update(name, o); });
          },
          py::arg("name"), py::arg("options"))
      .def_property_readonly("port", &Flow::port)
      .def_property_readonly("http_port", &Flow::http_port)
      .def("replica_addresses", &Flow::replica_addresses, py::arg("name"));
}

void DefineClient(py::module_& module) {
  py::class_<Client>(module, "Client")
      .def_static(
          "connect",
          [](const std::string& address, const py::dict& options) {
            ClientOptions client_options = ToClientOptions(options);
            StatusOr<Client> client = absl::UnknownError("not connected");
            {
              py::gil_scoped_release release;
              client = Client::Connect(address, client_options);
            }
            if (!client.ok()) Raise(client.status());
            return std::make_unique<Client>(std::move(client).value());
          },
          py::arg("address"), py::arg("options") = py::dict())
      .def(
          "post",
          [](Client& c, const std::string& on, py::handle inputs, const py::dict& options) {
            return PostDocList(inputs, options, [&](const DocList& docs, const PostOptions& o) {
              return c.Post(on, docs, o);
            });
          },
          py::arg("on"), py::arg("inputs"), py::arg("options") = py::dict())
      .def("post_iter", &PostIterator, py::arg("on"), py::arg("inputs"),
           py::arg("options") = py::dict(),
           "Posts the `_shoal.Doc` handles an iterator yields, read as requests are sent")
      .def("stream_doc", &StreamDoc, py::arg("on"), py::arg("doc"),
           py::arg("parameters_json") = "{}", py::arg("timeout_ms") = 0, py::arg("callback"),
           "Calls a streaming endpoint; callback(_shoal.Doc) per document, False stops")
      .def(
          "ping",
          [](Client& c, int timeout_ms) {
            CheckWithoutGil([&] { return c.Ping(std::chrono::milliseconds(timeout_ms)); });
          },
          py::arg("timeout_ms") = 3000);
}

}  // namespace

void DefineApi(py::module_& module) {
  bad_server_error = PyErr_NewExceptionWithDoc(
      "_shoal.BadServer", "An Executor answered with an error (Jina's BadServer)",
      PyExc_RuntimeError, nullptr);
  module.add_object("BadServer", py::handle(bad_server_error));
  DefineResponse(module);
  DefineDeployment(module);
  DefineFlow(module);
  DefineClient(module);
}

}  // namespace shoal::python
