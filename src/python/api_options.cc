#include "src/python/api_options.h"

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "src/python/api_docs.h"

namespace py = pybind11;

namespace shoal::python {
namespace {

template <typename Options>
using Setters = std::map<std::string, std::function<void(Options&, py::handle)>>;

// Sets every key of `values` through its setter; TypeError naming the key when it is unknown
// or its value does not convert.
template <typename Options>
void Fill(Options& options, const py::dict& values, const Setters<Options>& setters,
          const char* what) {
  for (auto [key_handle, value] : values) {
    std::string key = py::str(key_handle);
    auto it = setters.find(key);
    if (it == setters.end()) {
      throw py::type_error(std::string(what) + ": unknown option '" + key + "'");
    }
    try {
      it->second(options, value);
    } catch (const py::cast_error&) {
      throw py::type_error(std::string(what) + ": option '" + key + "' cannot be " +
                           std::string(py::str(py::type::handle_of(value).attr("__qualname__"))));
    }
  }
}

// A setter of `Options::*member` from the Python value, converted by pybind11.
template <typename Options, typename T>
typename Setters<Options>::value_type Field(const char* name, T Options::*member) {
  return {name, [member](Options& o, py::handle v) { o.*member = py::cast<T>(v); }};
}

// Where replicas find the `shoal` executable: SHOAL_BIN, else the one built with this module.
std::string DefaultShoalBinary() {
  const char* bin = std::getenv("SHOAL_BIN");
  return bin != nullptr && *bin != '\0' ? bin : SHOAL_BINARY_PATH;
}

InternalTlsOptions ToInternalTls(py::handle value) {
  auto files = py::cast<std::map<std::string, std::string>>(value);
  InternalTlsOptions tls;
  for (const auto& [key, path] : files) {
    if (key == "certfile") {
      tls.certfile = path;
    } else if (key == "keyfile") {
      tls.keyfile = path;
    } else if (key == "cafile") {
      tls.cafile = path;
    } else {
      throw py::type_error("internal_tls: unknown key '" + key + "'");
    }
  }
  return tls;
}

const Setters<DeploymentOptions>& DeploymentSetters() {
  using O = DeploymentOptions;
  static const auto* setters = new Setters<O>{
      Field("name", &O::name),
      Field("uses", &O::uses),
      Field("uses_with", &O::uses_with),
      Field("uses_dynamic_batching", &O::uses_dynamic_batching),
      Field("replicas", &O::replicas),
      Field("shards", &O::shards),
      Field("polling", &O::polling),
      Field("port", &O::port),
      Field("host", &O::host),
      Field("env", &O::env),
      Field("external", &O::external),
      Field("external_hosts", &O::external_hosts),
      Field("timeout_ready_ms", &O::timeout_ready_ms),
      Field("timeout_send_ms", &O::timeout_send_ms),
      Field("retries", &O::retries),
      Field("max_queued_requests", &O::max_queued_requests),
      Field("max_docs_per_request", &O::max_docs_per_request),
      Field("max_message_size", &O::max_message_size),
      Field("expose_internal_errors", &O::expose_internal_errors),
      Field("workspace", &O::workspace),
      Field("stateful", &O::stateful),
      Field("raft_configuration", &O::raft_configuration),
      Field("peer_ports", &O::peer_ports),
      Field("read_consistency", &O::read_consistency),
      Field("autoscaling", &O::autoscaling),
      Field("shoal_binary", &O::shoal_binary),
      Field("max_replicas", &O::max_replicas),
      Field("needs", &O::needs),
      Field("floating", &O::floating),
      Field("no_reduce", &O::no_reduce),
      Field("auth_token", &O::auth_token),
      Field("ssl_certfile", &O::ssl_certfile),
      Field("ssl_keyfile", &O::ssl_keyfile),
      Field("reflection", &O::reflection),
      {"internal_tls", [](O& o, py::handle v) { o.internal_tls = ToInternalTls(v); }},
  };
  return *setters;
}

const Setters<FlowOptions>& FlowSetters() {
  using O = FlowOptions;
  static const auto* setters = new Setters<O>{
      Field("name", &O::name),
      Field("protocols", &O::protocols),
      Field("ports", &O::ports),
      Field("host", &O::host),
      Field("prefetch", &O::prefetch),
      Field("max_docs_per_request", &O::max_docs_per_request),
      Field("max_message_size", &O::max_message_size),
      Field("shoal_binary", &O::shoal_binary),
      Field("max_replicas", &O::max_replicas),
      Field("auth_token", &O::auth_token),
      Field("ssl_certfile", &O::ssl_certfile),
      Field("ssl_keyfile", &O::ssl_keyfile),
      Field("reflection", &O::reflection),
      {"internal_tls", [](O& o, py::handle v) { o.internal_tls = ToInternalTls(v); }},
  };
  return *setters;
}

std::chrono::milliseconds Milliseconds(py::handle value) {
  return std::chrono::milliseconds(py::cast<int64_t>(value));
}

const Setters<ClientOptions>& ClientSetters() {
  using O = ClientOptions;
  static const auto* setters = new Setters<O>{
      Field("auth_token", &O::auth_token),
      Field("tls", &O::tls),
      Field("ssl_cafile", &O::ssl_cafile),
      Field("ssl_certfile", &O::ssl_certfile),
      Field("ssl_keyfile", &O::ssl_keyfile),
      {"connect_timeout_ms", [](O& o, py::handle v) { o.connect_timeout = Milliseconds(v); }},
  };
  return *setters;
}

const Setters<PostOptions>& PostSetters() {
  using O = PostOptions;
  static const auto* setters = new Setters<O>{
      Field("request_size", &O::request_size),
      Field("target_executor", &O::target_executor),
      Field("prefetch", &O::prefetch),
      Field("results_in_order", &O::results_in_order),
      Field("stream", &O::stream),
      Field("max_attempts", &O::max_attempts),
      Field("backoff_multiplier", &O::backoff_multiplier),
      Field("show_progress", &O::show_progress),
      Field("continue_on_error", &O::continue_on_error),
      {"timeout_ms", [](O& o, py::handle v) { o.timeout = Milliseconds(v); }},
      {"initial_backoff_ms", [](O& o, py::handle v) { o.initial_backoff = Milliseconds(v); }},
      {"max_backoff_ms", [](O& o, py::handle v) { o.max_backoff = Milliseconds(v); }},
      {"parameters",
       [](O& o, py::handle v) {
         std::string error;
         std::optional<Params> params = Params::FromJson(py::cast<std::string>(v), &error);
         if (!params.has_value()) throw py::value_error("parameters: " + error);
         o.parameters = std::move(*params);
       }},
  };
  return *setters;
}

// A C++ callback that calls `callable(ResponseSnapshot)` with the GIL held.
std::function<void(const Response&)> Callback(PythonPostOptions& post, py::handle callable) {
  auto held = std::make_shared<py::object>(py::reinterpret_borrow<py::object>(callable));
  post.keep.push_back(held);
  std::shared_ptr<CallbackErrors> errors = post.errors;
  return [held, errors](const Response& response) {
    py::gil_scoped_acquire gil;
    if (errors->first.has_value()) return;
    try {
      ResponseSnapshot snapshot{.ok = response.ok(),
                                .request_id = std::string(response.request_id()),
                                .error = std::string(response.error()),
                                .exception_name = std::string(response.exception_name()),
                                .docs = ToPythonDocList(response.docs().Clone()),
                                .parameters = response.parameters().ToJson()};
      (*held)(std::move(snapshot));
    } catch (py::error_already_set& e) {
      errors->first.emplace(std::move(e));
    } catch (const py::builtin_exception& e) {
      e.set_error();
      errors->first.emplace();  // takes the error just set
    } catch (const std::exception& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
      errors->first.emplace();  // takes the error just set
    }
  };
}

}  // namespace

DeploymentOptions ToDeploymentOptions(const py::dict& values) {
  DeploymentOptions options;
  options.shoal_binary = DefaultShoalBinary();
  Fill(options, values, DeploymentSetters(), "Deployment");
  return options;
}

FlowOptions ToFlowOptions(const py::dict& values) {
  FlowOptions options;
  options.shoal_binary = DefaultShoalBinary();
  Fill(options, values, FlowSetters(), "Flow");
  return options;
}

ClientOptions ToClientOptions(const py::dict& values) {
  ClientOptions options;
  Fill(options, values, ClientSetters(), "Client");
  return options;
}

std::unique_ptr<PythonPostOptions> ToPostOptions(const py::dict& values) {
  auto post = std::make_unique<PythonPostOptions>();
  py::dict plain;
  for (auto [key, value] : values) {
    std::string name = py::str(key);
    if (name != "on_done" && name != "on_error" && name != "on_always") {
      plain[key] = value;
    } else if (!value.is_none()) {
      auto callback = Callback(*post, value);
      if (name == "on_done") post->options.on_done = std::move(callback);
      if (name == "on_error") post->options.on_error = std::move(callback);
      if (name == "on_always") post->options.on_always = std::move(callback);
    }
  }
  Fill(post->options, plain, PostSetters(), "post");
  return post;
}

}  // namespace shoal::python
