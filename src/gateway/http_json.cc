// JSON <-> DataRequestProto for the HTTP front end. nlohmann::json throws; every use that can
// throw stays inside this file (and json_limit_counter.h, used only here), behind a catch that
// turns it into a Status.
#include "src/gateway/http_json.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "docarray.pb.h"
#include "google/protobuf/struct.pb.h"
#include "shoal/doc.h"
#include "src/common/ids.h"
#include "src/common/strings.h"
#include "src/gateway/json_limit_counter.h"

namespace shoal::gateway {
namespace {

using Json = nlohmann::json;

// Deeper values are refused: protobuf's parser stops at 100 levels, and the conversions recurse.
constexpr int kMaxDepth = 64;
// numpy's limit on an array's dimensions.
constexpr size_t kMaxDims = 32;

Status Invalid(const std::string& where, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", AsAbsl(problem)));
}

std::string Member(const std::string& where, const std::string& key) {
  return where.empty() ? key : absl::StrCat(where, ".", key);
}

std::string Index(const std::string& where, size_t i) { return absl::StrCat(where, "[", i, "]"); }

// ---- JSON -> proto ----------------------------------------------------------------------------

Status ToValue(const Json& json, const std::string& where, int depth,
               google::protobuf::Value* out) {
  if (depth > kMaxDepth) return Invalid(where, "nested too deeply");
  switch (json.type()) {
    case Json::value_t::null:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    case Json::value_t::boolean:
      out->set_bool_value(json.get<bool>());
      return absl::OkStatus();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      out->set_number_value(json.get<double>());
      return absl::OkStatus();
    case Json::value_t::string:
      out->set_string_value(json.get_ref<const std::string&>());
      return absl::OkStatus();
    case Json::value_t::array: {
      google::protobuf::ListValue* list = out->mutable_list_value();
      for (size_t i = 0; i < json.size(); ++i) {
        SHOAL_RETURN_IF_ERROR(ToValue(json[i], Index(where, i), depth + 1, list->add_values()));
      }
      return absl::OkStatus();
    }
    case Json::value_t::object: {
      auto& fields = *out->mutable_struct_value()->mutable_fields();
      for (const auto& [key, value] : json.items()) {
        SHOAL_RETURN_IF_ERROR(ToValue(value, Member(where, key), depth + 1, &fields[key]));
      }
      return absl::OkStatus();
    }
    default:
      return Invalid(where, "expected a JSON value");
  }
}

// The shape of a rectangular array of numbers, or false when `json` is not one.
bool NumericShape(const Json& json, std::vector<uint32_t>* shape) {
  const Json* level = &json;
  while (level->is_array()) {
    if (shape->size() == kMaxDims) return false;
    if (level->size() > std::numeric_limits<uint32_t>::max()) return false;
    shape->push_back(static_cast<uint32_t>(level->size()));
    if (level->empty()) return true;
    level = &(*level)[0];
  }
  return level->is_number() && !shape->empty();
}

// Appends the values of `json` (checked against `shape` from `dim` on) in C order.
bool FlattenNumbers(const Json& json, const std::vector<uint32_t>& shape, size_t dim,
                    std::vector<float>* values) {
  if (dim == shape.size()) {
    if (!json.is_number()) return false;
    values->push_back(json.get<float>());
    return true;
  }
  if (!json.is_array() || json.size() != shape[dim]) return false;
  for (const Json& item : json) {
    if (!FlattenNumbers(item, shape, dim + 1, values)) return false;
  }
  return true;
}

// A rectangular array of numbers as a "<f4" ndarray; false when `json` is not one.
bool ToNdArray(const Json& json, docarray::NodeProto* out) {
  std::vector<uint32_t> shape;
  if (!NumericShape(json, &shape)) return false;
  std::vector<float> values;
  if (!FlattenNumbers(json, shape, 0, &values)) return false;
  docarray::DenseNdArrayProto* dense = out->mutable_ndarray()->mutable_dense();
  dense->set_dtype("<f4");
  for (uint32_t d : shape) dense->add_shape(d);
  dense->set_buffer(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  out->set_type(std::string(kNdArrayType));
  return true;
}

Status ToDoc(const Json& json, const std::string& where, int depth, docarray::DocProto* out);

Status ToNode(const Json& json, const std::string& key, const std::string& where, int depth,
              docarray::NodeProto* out) {
  if (depth > kMaxDepth) return Invalid(where, "nested too deeply");
  // None, for a field of any kind (docarray v2 writes every unset field as null): a node
  // without content, which reads as unset.
  if (json.is_null()) return absl::OkStatus();
  bool numbers_only = key == "embedding" || key == "tensor";
  if (numbers_only && !json.is_array()) return Invalid(where, "expected numbers");
  switch (json.type()) {
    case Json::value_t::boolean:
      out->set_boolean(json.get<bool>());
      return absl::OkStatus();
    case Json::value_t::number_integer: {
      int64_t v = json.get<int64_t>();
      if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
        out->set_integer(static_cast<int32_t>(v));
      } else {
        out->set_float_(static_cast<double>(v));
      }
      return absl::OkStatus();
    }
    case Json::value_t::number_unsigned: {
      uint64_t v = json.get<uint64_t>();
      if (v <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
        out->set_integer(static_cast<int32_t>(v));
      } else {
        out->set_float_(static_cast<double>(v));
      }
      return absl::OkStatus();
    }
    case Json::value_t::number_float:
      out->set_float_(json.get<double>());
      return absl::OkStatus();
    case Json::value_t::string:
      out->set_text(json.get_ref<const std::string&>());
      return absl::OkStatus();
    case Json::value_t::object: {
      auto& fields = *out->mutable_dict()->mutable_data();
      for (const auto& [k, v] : json.items()) {
        SHOAL_RETURN_IF_ERROR(ToNode(v, k, Member(where, k), depth + 1, &fields[k]));
      }
      return absl::OkStatus();
    }
    case Json::value_t::array:
      break;
    default:
      return Invalid(where, "expected a JSON value");
  }
  if ((key == "matches" || key == "chunks") &&
      std::all_of(json.begin(), json.end(), [](const Json& j) { return j.is_object(); })) {
    docarray::DocListProto* docs = out->mutable_doc_array();
    for (size_t i = 0; i < json.size(); ++i) {
      SHOAL_RETURN_IF_ERROR(ToDoc(json[i], Index(where, i), depth + 1, docs->add_docs()));
    }
    return absl::OkStatus();
  }
  if (!json.empty() && ToNdArray(json, out)) return absl::OkStatus();
  if (numbers_only) {
    if (json.empty()) {
      ToNdArray(Json::array(), out);  // shape [0]
      return absl::OkStatus();
    }
    return Invalid(where, "expected numbers (a rectangular array of them)");
  }
  docarray::ListOfAnyProto* list = out->mutable_list();
  for (size_t i = 0; i < json.size(); ++i) {
    SHOAL_RETURN_IF_ERROR(ToNode(json[i], "", Index(where, i), depth + 1, list->add_data()));
  }
  return absl::OkStatus();
}

Status ToDoc(const Json& json, const std::string& where, int depth, docarray::DocProto* out) {
  if (depth > kMaxDepth) return Invalid(where, "nested too deeply");
  auto& fields = *out->mutable_data();
  if (json.is_string()) {
    fields["text"].set_text(json.get_ref<const std::string&>());
  } else if (!json.is_object()) {
    return Invalid(where, "expected a doc (a JSON object)");
  } else {
    for (const auto& [key, value] : json.items()) {
      if (value.is_null()) continue;  // an unset field (docarray v2 sends them all as null)
      std::string at = Member(where, key);
      if (key == "id") {
        if (!value.is_string()) return Invalid(at, "expected a string");
        continue;
      }
      SHOAL_RETURN_IF_ERROR(ToNode(value, key, at, depth + 1, &fields[key]));
    }
  }
  docarray::NodeProto& id = fields["id"];
  auto it = json.is_object() ? json.find("id") : json.end();
  id.set_text(it != json.end() && it->is_string() ? it->get<std::string>() : RandomHexId());
  id.set_type(std::string(kIdType));
  return absl::OkStatus();
}

// The first of `names` present in `object`, or nullptr.
const Json* Find(const Json& object, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = object.find(name);
    if (it != object.end()) return &*it;
  }
  return nullptr;
}

Status ReadRequest(const Json& body, std::string_view path_endpoint,
                   jina::DataRequestProto* request) {
  if (!body.is_object()) return Invalid("request body", "expected a JSON object");
  jina::HeaderProto* header = request->mutable_header();
  header->set_request_id(RandomHexId());
  std::string endpoint(path_endpoint);
  if (const Json* e = Find(body, {"execEndpoint", "exec_endpoint"});
      e != nullptr && !e->is_null()) {
    if (!e->is_string()) return Invalid("execEndpoint", "expected a string");
    if (endpoint.empty()) endpoint = e->get<std::string>();
  }
  header->set_exec_endpoint(endpoint.empty() ? "/" : endpoint);
  if (const Json* t = Find(body, {"targetExecutor", "target_executor"});
      t != nullptr && !t->is_null()) {
    if (!t->is_string()) return Invalid("targetExecutor", "expected a string");
    if (!t->get_ref<const std::string&>().empty())
      header->set_target_executor(t->get<std::string>());
  }
  if (const Json* p = Find(body, {"parameters"}); p != nullptr && !p->is_null()) {
    if (!p->is_object()) return Invalid("parameters", "expected an object");
    auto& fields = *request->mutable_parameters()->mutable_fields();
    for (const auto& [key, value] : p->items()) {
      SHOAL_RETURN_IF_ERROR(ToValue(value, Member("parameters", key), 1, &fields[key]));
    }
  }
  docarray::DocListProto* docs = request->mutable_data()->mutable_docs();
  if (const Json* d = Find(body, {"data"}); d != nullptr && !d->is_null()) {
    if (!d->is_array()) return Invalid("data", "expected a list of docs");
    for (size_t i = 0; i < d->size(); ++i) {
      SHOAL_RETURN_IF_ERROR(ToDoc((*d)[i], Index("data", i), 1, docs->add_docs()));
    }
  }
  return absl::OkStatus();
}

// ---- proto -> JSON ----------------------------------------------------------------------------

Json FromValue(const google::protobuf::Value& value, int depth) {
  if (depth > kMaxDepth) return nullptr;
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      return value.number_value();
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kStructValue: {
      Json object = Json::object();
      for (const auto& [key, v] : value.struct_value().fields())
        object[key] = FromValue(v, depth + 1);
      return object;
    }
    case google::protobuf::Value::kListValue: {
      Json list = Json::array();
      for (const auto& v : value.list_value().values()) list.push_back(FromValue(v, depth + 1));
      return list;
    }
    default:
      return nullptr;
  }
}

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// One element of an ndarray's buffer as JSON.
Json Element(std::string_view dtype, const char* p) {
  if (dtype == "<f4") return Load<float>(p);
  if (dtype == "<f8") return Load<double>(p);
  if (dtype == "<i4") return Load<int32_t>(p);
  if (dtype == "<i8") return Load<int64_t>(p);
  if (dtype == "<i2") return Load<int16_t>(p);
  if (dtype == "|i1") return Load<int8_t>(p);
  if (dtype == "|u1") return Load<uint8_t>(p);
  if (dtype == "|b1") return Load<uint8_t>(p) != 0;
  return nullptr;
}

size_t ItemSize(std::string_view dtype) {
  if (dtype == "<f8" || dtype == "<i8") return 8;
  if (dtype == "<f4" || dtype == "<i4") return 4;
  if (dtype == "<i2") return 2;
  if (dtype == "|i1" || dtype == "|u1" || dtype == "|b1") return 1;
  return 0;
}

Json Nest(std::string_view dtype, size_t item, const std::vector<uint32_t>& shape, size_t dim,
          const char** p) {
  if (dim == shape.size()) {
    Json v = Element(dtype, *p);
    *p += item;
    return v;
  }
  Json list = Json::array();
  for (uint32_t i = 0; i < shape[dim]; ++i) list.push_back(Nest(dtype, item, shape, dim + 1, p));
  return list;
}

StatusOr<Json> FromNdArray(const docarray::NdArrayProto& array, const std::string& where) {
  const docarray::DenseNdArrayProto& dense = array.dense();
  size_t item = ItemSize(dense.dtype());
  if (item == 0) {
    return absl::InternalError(
        absl::StrCat(where, ": ndarray dtype '", dense.dtype(), "' has no JSON form"));
  }
  std::vector<uint32_t> shape(dense.shape().begin(), dense.shape().end());
  // Elements, and JSON arrays to build (a zero inside the shape still nests the dims before
  // it): both bounded, so a hostile shape can neither overflow nor blow up the answer.
  constexpr size_t kMaxJsonNodes = size_t{1} << 26;
  size_t count = 1;
  size_t arrays = 0;
  size_t prefix = 1;
  bool too_big = false;
  for (uint32_t d : shape) {
    too_big |= __builtin_mul_overflow(count, static_cast<size_t>(d), &count);
    arrays += prefix;
    too_big |= __builtin_mul_overflow(prefix, static_cast<size_t>(d), &prefix);
    too_big |= arrays > kMaxJsonNodes || prefix > kMaxJsonNodes;
  }
  if (too_big) {
    return absl::InternalError(absl::StrCat(where, ": ndarray shape is too large for JSON"));
  }
  if (dense.buffer().size() != count * item) {
    return absl::InternalError(absl::StrCat(where, ": ndarray buffer holds ", dense.buffer().size(),
                                            " bytes, shape needs ", count * item));
  }
  const char* p = dense.buffer().data();
  return Nest(dense.dtype(), item, shape, 0, &p);
}

StatusOr<Json> FromDoc(const docarray::DocProto& doc, const std::string& where, int depth);

StatusOr<Json> FromNode(const docarray::NodeProto& node, const std::string& where, int depth) {
  if (depth > kMaxDepth) return absl::InternalError(absl::StrCat(where, ": nested too deeply"));
  switch (node.content_case()) {
    case docarray::NodeProto::kText:
      return Json(node.text());
    case docarray::NodeProto::kInteger:
      return Json(node.integer());
    case docarray::NodeProto::kFloat:
      return Json(node.float_());
    case docarray::NodeProto::kBoolean:
      return Json(node.boolean());
    case docarray::NodeProto::kBlob:
      return Json(absl::Base64Escape(node.blob()));
    case docarray::NodeProto::kNdarray:
      return FromNdArray(node.ndarray(), where);
    case docarray::NodeProto::kDoc:
      return FromDoc(node.doc(), where, depth + 1);
    case docarray::NodeProto::kDocArray: {
      Json list = Json::array();
      for (int i = 0; i < node.doc_array().docs_size(); ++i) {
        SHOAL_ASSIGN_OR_RETURN(Json doc, FromDoc(node.doc_array().docs(i),
                                                 Index(where, static_cast<size_t>(i)), depth + 1));
        list.push_back(std::move(doc));
      }
      return list;
    }
    case docarray::NodeProto::kList:
    case docarray::NodeProto::kSet:
    case docarray::NodeProto::kTuple: {
      const docarray::ListOfAnyProto& items =
          node.content_case() == docarray::NodeProto::kList  ? node.list()
          : node.content_case() == docarray::NodeProto::kSet ? node.set()
                                                             : node.tuple();
      Json list = Json::array();
      for (int i = 0; i < items.data_size(); ++i) {
        SHOAL_ASSIGN_OR_RETURN(
            Json v, FromNode(items.data(i), Index(where, static_cast<size_t>(i)), depth + 1));
        list.push_back(std::move(v));
      }
      return list;
    }
    case docarray::NodeProto::kDict: {
      Json object = Json::object();
      for (const auto& [key, v] : node.dict().data()) {
        SHOAL_ASSIGN_OR_RETURN(object[key], FromNode(v, Member(where, key), depth + 1));
      }
      return object;
    }
    default:
      return Json(nullptr);
  }
}

StatusOr<Json> FromDoc(const docarray::DocProto& doc, const std::string& where, int depth) {
  Json object = Json::object();
  for (const auto& [key, node] : doc.data()) {
    SHOAL_ASSIGN_OR_RETURN(object[key], FromNode(node, Member(where, key), depth + 1));
  }
  return object;
}

Json FromStatus(const jina::StatusProto& status) {
  Json json = {{"code", static_cast<int>(status.code())}, {"description", status.description()}};
  if (status.has_exception()) {
    Json args = Json::array();
    for (const std::string& arg : status.exception().args()) args.push_back(arg);
    json["exception"] = {{"name", status.exception().name()},
                         {"args", std::move(args)},
                         {"executor", status.exception().executor()}};
  }
  return json;
}

StatusOr<Json> FromRequest(const jina::DataRequestProto& request) {
  Json header = {{"requestId", request.header().request_id()}};
  if (request.header().has_exec_endpoint()) {
    header["execEndpoint"] = request.header().exec_endpoint();
  }
  if (request.header().has_status() &&
      request.header().status().code() == jina::StatusProto::ERROR) {
    header["status"] = FromStatus(request.header().status());
  }
  Json parameters = Json::object();
  for (const auto& [key, value] : request.parameters().fields()) {
    parameters[key] = FromValue(value, 1);
  }
  docarray::DocListProto from_bytes;
  const docarray::DocListProto* docs = &request.data().docs();
  if (request.data().has_docs_bytes()) {
    if (!from_bytes.ParseFromString(request.data().docs_bytes())) {
      return absl::InternalError("data: docs_bytes is not a DocListProto");
    }
    docs = &from_bytes;
  }
  Json data = Json::array();
  for (int i = 0; i < docs->docs_size(); ++i) {
    SHOAL_ASSIGN_OR_RETURN(Json doc, FromDoc(docs->docs(i), Index("data", i), 1));
    data.push_back(std::move(doc));
  }
  return Json{{"header", std::move(header)},
              {"parameters", std::move(parameters)},
              {"data", std::move(data)}};
}

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

namespace {

// The body as JSON, counted against `limits` while it is parsed.
StatusOr<Json> ParseBody(std::string_view body, const JsonLimits& limits) {
  try {
    internal::JsonLimitCounter counter(limits);
    return Json::parse(body.begin(), body.end(), std::ref(counter));
  } catch (const internal::OverJsonLimit& e) {
    return e.status;
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", what));
  }
}

}  // namespace

StatusOr<jina::DataRequestProto> DataRequestFromJson(std::string_view body,
                                                     std::string_view path_endpoint,
                                                     const JsonLimits& limits) {
  try {
    SHOAL_ASSIGN_OR_RETURN(Json json, ParseBody(body, limits));
    jina::DataRequestProto request;
    SHOAL_RETURN_IF_ERROR(ReadRequest(json, path_endpoint, &request));
    return request;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("request body: ", e.what()));
  }
}

StatusOr<jina::SingleDocumentRequestProto> StreamRequestFromJson(std::string_view body,
                                                                 std::string_view path_endpoint,
                                                                 const JsonLimits& limits) {
  try {
    const bool empty = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
    SHOAL_ASSIGN_OR_RETURN(Json json, ParseBody(empty ? "{}" : body, limits));
    if (json.is_object() && !json.contains("data") && !json.contains("parameters")) {
      json = Json{{"data", Json::array({std::move(json)})}};  // the document itself
    }
    jina::DataRequestProto request;
    SHOAL_RETURN_IF_ERROR(ReadRequest(json, path_endpoint, &request));
    jina::SingleDocumentRequestProto single;
    single.mutable_header()->Swap(request.mutable_header());
    single.mutable_parameters()->Swap(request.mutable_parameters());
    docarray::DocListProto* docs = request.mutable_data()->mutable_docs();
    if (docs->docs_size() > 0) single.mutable_document()->Swap(docs->mutable_docs(0));
    return single;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("request body: ", e.what()));
  }
}

StatusOr<std::string> StreamEvent(const jina::SingleDocumentRequestProto& message) {
  try {
    if (message.header().status().code() == jina::StatusProto::ERROR) {
      jina::DataRequestProto head;
      *head.mutable_header() = message.header();
      SHOAL_ASSIGN_OR_RETURN(Json json, FromRequest(head));
      return absl::StrCat("event: error\ndata: ", Dump(json["header"]), "\n\n");
    }
    SHOAL_ASSIGN_OR_RETURN(Json doc, FromDoc(message.document(), "document", 0));
    return absl::StrCat("event: update\ndata: ", Dump(doc), "\n\n");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("writing an event: ", e.what()));
  }
}

StatusOr<std::string> DataRequestToJson(const jina::DataRequestProto& request) {
  try {
    SHOAL_ASSIGN_OR_RETURN(Json json, FromRequest(request));
    return Dump(json);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("writing the response: ", e.what()));
  }
}

std::string JsonString(std::string_view text) { return Dump(Json(std::string(text))); }

std::string ErrorJson(std::string_view message) {
  try {
    return Dump(Json{{"detail", std::string(message)}});
  } catch (const std::exception&) {
    return "{\"detail\": \"error\"}";
  }
}

std::string InfoJson(std::string_view name, std::string_view version, bool ready) {
  try {
    return Dump(
        Json{{"name", std::string(name)}, {"version", std::string(version)}, {"ready", ready}});
  } catch (const std::exception&) {
    return "{}";
  }
}

std::string DryRunJson(std::string_view error) {
  try {
    return Dump(Json{{"code", error.empty() ? 0 : 1}, {"description", std::string(error)}});
  } catch (const std::exception&) {
    return "{\"code\": 1}";
  }
}

}  // namespace shoal::gateway
