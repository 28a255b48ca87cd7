// AssignMissingIds: a walk over the documents and their nested documents.
#include "src/doc/doc_ids.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/ids.h"

namespace shoal::doc {
namespace {

bool HasId(const docarray::DocProto& doc) {
  auto it = doc.data().find("id");
  if (it == doc.data().end()) return false;
  switch (it->second.content_case()) {
    case docarray::NodeProto::CONTENT_NOT_SET:  // None
      return false;
    case docarray::NodeProto::kText:
      return !it->second.text().empty();
    default:  // an id of another kind is the sender's to keep
      return true;
  }
}

void AssignDoc(docarray::DocProto& doc, std::string_view seed, const std::string& path) {
  if (!HasId(doc)) {
    docarray::NodeProto& id = (*doc.mutable_data())["id"];
    id.set_text(DerivedHexId(seed, path));
    id.set_type("id");
  }
  for (auto& [field, node] : *doc.mutable_data()) {
    if (node.has_doc()) {
      AssignDoc(*node.mutable_doc(), seed, absl::StrCat(path, ".", field));
    } else if (node.has_doc_array()) {
      docarray::DocListProto& list = *node.mutable_doc_array();
      for (int i = 0; i < list.docs_size(); ++i) {
        AssignDoc(*list.mutable_docs(i), seed, absl::StrCat(path, ".", field, "[", i, "]"));
      }
    }
  }
}

}  // namespace

void AssignMissingIds(docarray::DocListProto& docs, std::string_view seed) {
  for (int i = 0; i < docs.docs_size(); ++i) {
    AssignDoc(*docs.mutable_docs(i), seed, absl::StrCat(i));
  }
}

}  // namespace shoal::doc
