// AssignMissingIds: a walk over the documents and their nested documents.
#include "src/doc/doc_ids.h"

#include <optional>
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

// One walk: the document's place is built in one buffer, appended to going down and cut back
// coming up, and the seed is made only when a document without an id is found, so that a
// request whose documents all have ids costs no allocation.
class Walk {
 public:
  explicit Walk(absl::FunctionRef<std::string()> make_seed) : make_seed_(make_seed) {}

  void Doc(docarray::DocProto& doc) {
    if (!HasId(doc)) {
      if (!seed_.has_value()) seed_ = make_seed_();
      docarray::NodeProto& id = (*doc.mutable_data())["id"];
      id.set_text(DerivedHexId(*seed_, path_));
      id.set_type("id");
    }
    for (auto& [field, node] : *doc.mutable_data()) {
      const size_t place = path_.size();
      if (node.has_doc()) {
        absl::StrAppend(&path_, ".", field);
        Doc(*node.mutable_doc());
      } else if (node.has_doc_array()) {
        docarray::DocListProto& list = *node.mutable_doc_array();
        for (int i = 0; i < list.docs_size(); ++i) {
          absl::StrAppend(&path_, ".", field, "[", i, "]");
          Doc(*list.mutable_docs(i));
          path_.resize(place);
        }
      }
      path_.resize(place);
    }
  }

  void List(docarray::DocListProto& docs) {
    for (int i = 0; i < docs.docs_size(); ++i) {
      path_.clear();
      absl::StrAppend(&path_, i);
      Doc(*docs.mutable_docs(i));
    }
  }

 private:
  absl::FunctionRef<std::string()> make_seed_;
  std::optional<std::string> seed_;
  std::string path_;  // "1", "1.matches[0]", ...
};

}  // namespace

void AssignMissingIds(docarray::DocListProto& docs, absl::FunctionRef<std::string()> make_seed) {
  Walk(make_seed).List(docs);
}

void AssignMissingIds(docarray::DocListProto& docs, std::string_view seed) {
  AssignMissingIds(docs, [seed] { return std::string(seed); });
}

}  // namespace shoal::doc
