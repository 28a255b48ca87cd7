// Merge-by-id of DocLists and field-wise merge of documents, the rules of docarray's
// `reduce_all` and `BaseDoc.update` applied to the wire messages directly.
#include "src/doc/reduce.h"

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/util/message_differencer.h"

namespace shoal::doc {
namespace {

using docarray::DocListProto;
using docarray::DocProto;
using docarray::NodeProto;

// Document id -> index in the list being reduced into.
using IdIndex = absl::flat_hash_map<std::string, int>;

// The document's id, or nullptr when it has no `id` text field.
const std::string* IdOf(const DocProto& doc) {
  auto it = doc.data().find(std::string_view("id"));
  if (it == doc.data().end() || !it->second.has_text()) return nullptr;
  return &it->second.text();
}

IdIndex IndexIds(const DocListProto& list) {
  IdIndex ids;
  ids.reserve(static_cast<size_t>(list.docs_size()));
  for (int i = 0; i < list.docs_size(); ++i) {
    if (const std::string* id = IdOf(list.docs(i))) ids.try_emplace(*id, i);
  }
  return ids;
}

// Merges `right` into `left`, whose ids `ids` indexes; appended documents join the index so
// that a later document with the same id merges into them instead of being appended again.
void ReduceInto(DocListProto& left, const DocListProto& right, IdIndex& ids) {
  for (const DocProto& doc : right.docs()) {
    const std::string* id = IdOf(doc);
    if (id != nullptr) {
      auto it = ids.find(*id);
      if (it != ids.end()) {
        MergeDoc(*left.mutable_docs(it->second), doc);
        continue;
      }
      ids.emplace(*id, left.docs_size());
    }
    *left.add_docs() = doc;
  }
}

// Value equality, for set union: same kind, same type tag, same content.
bool NodeEquals(const NodeProto& a, const NodeProto& b) {
  if (a.content_case() != b.content_case() || a.type() != b.type()) return false;
  switch (a.content_case()) {
    case NodeProto::CONTENT_NOT_SET:
      return true;
    case NodeProto::kText:
      return a.text() == b.text();
    case NodeProto::kInteger:
      return a.integer() == b.integer();
    case NodeProto::kFloat:
      return a.float_() == b.float_();
    case NodeProto::kBoolean:
      return a.boolean() == b.boolean();
    case NodeProto::kBlob:
      return a.blob() == b.blob();
    default:
      return google::protobuf::util::MessageDifferencer::Equals(a, b);
  }
}

void UnionInto(docarray::ListOfAnyProto& left, const docarray::ListOfAnyProto& right) {
  for (const NodeProto& item : right.data()) {
    bool present = false;
    for (const NodeProto& existing : left.data()) {
      if (NodeEquals(existing, item)) {
        present = true;
        break;
      }
    }
    if (!present) *left.add_data() = item;
  }
}

// Merges a non-empty `right` into `left` of the same kind.
void MergeSameKind(NodeProto& left, const NodeProto& right) {
  switch (right.content_case()) {
    case NodeProto::kDoc:
      MergeDoc(*left.mutable_doc(), right.doc());
      break;
    case NodeProto::kDocArray: {
      IdIndex ids = IndexIds(left.doc_array());
      ReduceInto(*left.mutable_doc_array(), right.doc_array(), ids);
      break;
    }
    case NodeProto::kList:
      left.mutable_list()->mutable_data()->MergeFrom(right.list().data());
      break;
    case NodeProto::kSet:
      UnionInto(*left.mutable_set(), right.set());
      break;
    case NodeProto::kDict: {
      auto* entries = left.mutable_dict()->mutable_data();
      for (const auto& [key, value] : right.dict().data()) (*entries)[key] = value;
      break;
    }
    default:  // Scalars, blobs, ndarrays and tuples: the later value wins.
      left = right;
      return;
  }
  if (right.has_type()) left.set_type(right.type());
}

void MergeNode(NodeProto& left, const NodeProto& right) {
  if (right.content_case() == NodeProto::CONTENT_NOT_SET) return;  // None never overwrites.
  if (left.content_case() != right.content_case()) {
    left = right;
    return;
  }
  MergeSameKind(left, right);
}

}  // namespace

void MergeDoc(DocProto& left, const DocProto& right) {
  if (&left == &right) {
    const DocProto copy = right;
    MergeDoc(left, copy);
    return;
  }
  // Each field merges on its own, so the (unspecified) map order cannot change the result.
  auto* fields = left.mutable_data();
  for (const auto& [name, node] : right.data()) {
    if (node.content_case() == NodeProto::CONTENT_NOT_SET) continue;
    auto it = fields->find(name);
    if (it == fields->end()) {
      (*fields)[name] = node;
    } else {
      MergeNode(it->second, node);
    }
  }
}

void ReduceDocLists(std::span<DocListProto* const> parts) {
  if (parts.empty() || parts[0] == nullptr) return;
  DocListProto& left = *parts[0];
  IdIndex ids = IndexIds(left);
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == nullptr) continue;
    if (parts[i] == &left) {
      const DocListProto copy = left;
      ReduceInto(left, copy, ids);
    } else {
      ReduceInto(left, *parts[i], ids);
    }
  }
}

}  // namespace shoal::doc
