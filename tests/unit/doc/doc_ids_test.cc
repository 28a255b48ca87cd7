// Tests of AssignMissingIds: docs without an id get docarray-shaped ids that depend only on the
// seed (a request id) and the doc's place, nested docs included; ids already there stay.
#include "src/doc/doc_ids.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "shoal/doc.h"

namespace shoal::doc {
namespace {

bool IsId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Three docs without ids: one with no id field, one with an empty id, one with a None id; the
// second has matches (one without an id) and a nested doc without an id.
docarray::DocListProto WithoutIds() {
  DocList docs;
  for (int i = 0; i < 3; ++i) {
    Doc doc = docs.Add();
    doc.Erase("id");
    doc.set_text("doc " + std::to_string(i));
  }
  docs[1].set_id("");
  docs[1].matches().Add().Erase("id");
  docs[1].matches().Add().set_id("kept-match");
  docs[1].MutableDoc("chunk").set_text("nested");
  docs[2].mutable_node("id")->Clear();  // None
  return docs.proto();
}

TEST(AssignMissingIdsTest, EveryDocWithoutAnIdGetsOne) {
  docarray::DocListProto proto = WithoutIds();
  AssignMissingIds(proto, "request-1");
  DocList docs(&proto);
  std::set<std::string> ids;
  for (Doc doc : docs) {
    EXPECT_TRUE(IsId(doc.id())) << doc.id();
    EXPECT_EQ(doc.proto().data().at("id").type(), "id");
    ids.insert(std::string(doc.id()));
  }
  EXPECT_TRUE(IsId(docs[1].matches()[0].id())) << docs[1].matches()[0].id();
  EXPECT_EQ(docs[1].matches()[1].id(), "kept-match");
  EXPECT_TRUE(IsId(docs[1].MutableDoc("chunk").id()));
  ids.insert(std::string(docs[1].matches()[0].id()));
  ids.insert(std::string(docs[1].MutableDoc("chunk").id()));
  EXPECT_EQ(ids.size(), 5u);  // all different
}

TEST(AssignMissingIdsTest, SameSeedSameIdsOtherSeedOtherIds) {
  docarray::DocListProto a = WithoutIds(), b = WithoutIds(), c = WithoutIds();
  AssignMissingIds(a, "request-1");
  AssignMissingIds(b, "request-1");
  AssignMissingIds(c, "request-2");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(DocList(&a)[i].id(), DocList(&b)[i].id());
    EXPECT_NE(DocList(&a)[i].id(), DocList(&c)[i].id());
  }
  EXPECT_EQ(DocList(&a)[1].matches()[0].id(), DocList(&b)[1].matches()[0].id());
}

TEST(AssignMissingIdsTest, IdsAlreadyThereStay) {
  DocList docs;
  docs.Add().set_id("mine");
  docs.Add().set_id("yours");
  AssignMissingIds(docs.proto(), "request-1");
  EXPECT_EQ(docs[0].id(), "mine");
  EXPECT_EQ(docs[1].id(), "yours");
}

}  // namespace
}  // namespace shoal::doc
