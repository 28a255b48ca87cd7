// libFuzzer target: arbitrary bytes parsed as a Jina DataRequestProto and as a docarray
// DocListProto, walked through every Doc accessor and reduced; none of it may crash.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "docarray.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "jina.pb.h"
#include "shoal/doc.h"
#include "src/doc/reduce.h"

namespace {

// Keeps the compiler from discarding reads.
volatile size_t g_sink = 0;

void Consume(std::string_view s) { g_sink = g_sink + s.size(); }

void WalkList(shoal::DocList& docs);
void WalkDoc(shoal::Doc doc);

// Nesting is bounded by protobuf's parse depth limit (100), so recursion stays shallow.
void WalkNode(docarray::NodeProto& node) {
  Consume(node.type());
  switch (node.content_case()) {
    case docarray::NodeProto::kDoc:
      WalkDoc(shoal::Doc(node.mutable_doc()));
      break;
    case docarray::NodeProto::kDocArray: {
      shoal::DocList docs(node.mutable_doc_array());
      WalkList(docs);
      break;
    }
    case docarray::NodeProto::kList:
    case docarray::NodeProto::kSet:
    case docarray::NodeProto::kTuple: {
      docarray::ListOfAnyProto* list = node.has_list()  ? node.mutable_list()
                                       : node.has_set() ? node.mutable_set()
                                                        : node.mutable_tuple();
      for (docarray::NodeProto& item : *list->mutable_data()) WalkNode(item);
      break;
    }
    case docarray::NodeProto::kDict:
      for (auto& [key, value] : *node.mutable_dict()->mutable_data()) WalkNode(value);
      break;
    case docarray::NodeProto::kNdarray: {
      shoal::NdArrayView view(&node.ndarray());
      Consume(view.dtype());
      Consume(view.bytes());
      g_sink = g_sink + view.shape().size() + view.num_elements() + view.floats().size();
      break;
    }
    default:
      break;
  }
}

void WalkDoc(shoal::Doc doc) {
  Consume(doc.id());
  Consume(doc.text());
  Consume(doc.url());
  Consume(doc.bytes());
  float sum = 0;
  for (float value : doc.embedding()) sum += value;
  std::span<float> writable = doc.mutable_embedding();
  if (!writable.empty()) writable[0] = sum;
  g_sink = g_sink + doc.scores().size();
  std::vector<std::string> fields;
  for (const auto& [name, node] : doc.proto().data()) fields.push_back(name);
  for (const std::string& field : fields) {
    g_sink = g_sink + doc.Has(field);
    (void)doc.GetText(field);
    (void)doc.GetInt(field);
    (void)doc.GetDouble(field);
    (void)doc.GetBool(field);
    (void)doc.GetBlob(field);
    if (auto array = doc.GetNdArray(field)) g_sink = g_sink + array->floats().size();
    if (doc.node(field) != nullptr) WalkNode(*doc.mutable_node(field));
  }
  // matches() would turn a `matches` of another kind into a list, so only read a list.
  if (const docarray::NodeProto* node = doc.node("matches"); node && node->has_doc_array()) {
    g_sink = g_sink + doc.matches().size();
  }
}

void WalkList(shoal::DocList& docs) {
  for (shoal::Doc doc : docs) WalkDoc(doc);
}

}  // namespace

// Malformed input makes protobuf log (invalid UTF-8 and the like); that noise hides findings.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  jina::DataRequestProto request;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    shoal::DocList docs(request.mutable_data()->mutable_docs());
    WalkList(docs);
    docarray::DocListProto copy = request.data().docs();
    docarray::DocListProto* parts[] = {request.mutable_data()->mutable_docs(), &copy};
    shoal::doc::ReduceDocLists(parts);
    // Documents may also come still serialized, as `docs_bytes`.
    docarray::DocListProto from_bytes;
    if (request.data().has_docs_bytes() &&
        from_bytes.ParseFromString(request.data().docs_bytes())) {
      shoal::DocList more(&from_bytes);
      WalkList(more);
    }
  }

  // Two lists from the two halves of the input, reduced both ways, plus the whole as one list.
  const size_t half = size / 2;
  docarray::DocListProto left, right, whole;
  const bool left_ok = left.ParseFromArray(data, static_cast<int>(half));
  const bool right_ok = right.ParseFromArray(data + half, static_cast<int>(size - half));
  if (whole.ParseFromArray(data, static_cast<int>(size))) {
    shoal::DocList docs(&whole);
    WalkList(docs);
  }
  if (left_ok && right_ok) {
    docarray::DocListProto left_copy = left, right_copy = right;
    docarray::DocListProto* forward[] = {&left, &right, &whole};
    shoal::doc::ReduceDocLists(forward);
    docarray::DocListProto* backward[] = {&right_copy, &left_copy};
    shoal::doc::ReduceDocLists(backward);
    shoal::DocList reduced(&left);
    WalkList(reduced);
    if (left.docs_size() > 0 && right.docs_size() > 0) {
      shoal::doc::MergeDoc(*left.mutable_docs(0), right.docs(0));
    }
  }
  return 0;
}
