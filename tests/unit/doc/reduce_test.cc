// Tests of ReduceDocLists and MergeDoc against the cases of reference/jina-semantics.md §2.4:
// shard results merged by id, docarray's update rules, and no doc appended twice.
#include "src/doc/reduce.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "shoal/doc.h"

namespace shoal::doc {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

Doc AddDoc(docarray::DocListProto& list, std::string_view id) {
  Doc doc(list.add_docs());
  doc.set_id(id);
  return doc;
}

std::vector<std::string> Ids(const docarray::DocListProto& list) {
  std::vector<std::string> ids;
  for (const docarray::DocProto& doc : list.docs()) ids.push_back(doc.data().at("id").text());
  return ids;
}

void Reduce(std::vector<docarray::DocListProto*> parts) { ReduceDocLists(parts); }

TEST(ReduceTest, SameIdFromTwoShardsIsOneDoc) {
  docarray::DocListProto shard0, shard1;
  AddDoc(shard0, "a").set_text("hello");
  AddDoc(shard1, "a").set_text("hello");
  Reduce({&shard0, &shard1});
  ASSERT_EQ(shard0.docs_size(), 1);
  EXPECT_EQ(Doc(shard0.mutable_docs(0)).text(), "hello");
}

TEST(ReduceTest, OrderIsListZeroThenNewDocsInEncounterOrder) {
  docarray::DocListProto l0, l1, l2;
  AddDoc(l0, "b");
  AddDoc(l0, "a");
  AddDoc(l1, "c");
  AddDoc(l1, "a");
  AddDoc(l2, "d");
  AddDoc(l2, "c");
  AddDoc(l2, "b");
  Reduce({&l0, &l1, &l2});
  EXPECT_THAT(Ids(l0), ElementsAre("b", "a", "c", "d"));
}

TEST(ReduceTest, DocInListsOneAndTwoButNotZeroAppearsOnce) {
  docarray::DocListProto l0, l1, l2;
  AddDoc(l0, "a");
  const double s1[] = {0.1};
  const double s2[] = {0.2};
  AddDoc(l1, "x").set_scores(s1);
  AddDoc(l2, "x").set_scores(s2);
  Reduce({&l0, &l1, &l2});
  EXPECT_THAT(Ids(l0), ElementsAre("a", "x"));
  EXPECT_THAT(Doc(l0.mutable_docs(1)).scores(), ElementsAre(0.1, 0.2));
}

TEST(ReduceTest, SameIdTwiceInOneLaterListAppearsOnce) {
  docarray::DocListProto l0, l1;
  AddDoc(l1, "x").set_text("first");
  AddDoc(l1, "x").set_text("second");
  Reduce({&l0, &l1});
  ASSERT_EQ(l0.docs_size(), 1);
  EXPECT_EQ(Doc(l0.mutable_docs(0)).text(), "second");
}

TEST(ReduceTest, MatchesFromShardsConcatenateAndMergeById) {
  docarray::DocListProto shard0, shard1;
  Doc q0 = AddDoc(shard0, "q");
  Doc q1 = AddDoc(shard1, "q");
  q0.matches().Add().set_id("m1");
  Doc shared0 = q0.matches().Add();
  shared0.set_id("shared");
  shared0.SetText("from", "shard0");
  shared0.SetInt("only0", 1);
  Doc shared1 = q1.matches().Add();
  shared1.set_id("shared");
  shared1.SetText("from", "shard1");
  q1.matches().Add().set_id("m2");
  const double scores0[] = {0.9, 0.7};
  const double scores1[] = {0.8, 0.6};
  q0.set_scores(scores0);
  q1.set_scores(scores1);

  Reduce({&shard0, &shard1});
  ASSERT_EQ(shard0.docs_size(), 1);
  Doc q(shard0.mutable_docs(0));
  DocList matches = q.matches();
  ASSERT_EQ(matches.size(), 3u);
  EXPECT_EQ(matches[0].id(), "m1");
  EXPECT_EQ(matches[1].id(), "shared");
  EXPECT_EQ(matches[2].id(), "m2");
  EXPECT_EQ(matches[1].GetText("from"), "shard1");
  EXPECT_EQ(matches[1].GetInt("only0"), 1);
  EXPECT_THAT(q.scores(), ElementsAre(0.9, 0.7, 0.8, 0.6));
}

TEST(ReduceTest, AppendedDocsAreCopiesOfTheLaterParts) {
  docarray::DocListProto l0, l1;
  AddDoc(l1, "x").set_text("t");
  Reduce({&l0, &l1});
  ASSERT_EQ(l0.docs_size(), 1);
  ASSERT_EQ(l1.docs_size(), 1);
  Doc(l0.mutable_docs(0)).set_text("changed");
  EXPECT_EQ(Doc(l1.mutable_docs(0)).text(), "t");
}

TEST(MergeDocTest, ScalarRightMostNonEmptyWins) {
  docarray::DocListProto l0, l1, l2;
  Doc d0 = AddDoc(l0, "a");
  d0.set_text("zero");
  d0.SetInt("n", 0);
  d0.SetDouble("f", 0.5);
  d0.SetBool("b", false);
  d0.SetBlob("blob", "000");
  const float e0[] = {0.0f};
  d0.set_embedding(e0);
  Doc d1 = AddDoc(l1, "a");
  d1.set_text("one");
  d1.SetInt("n", 1);
  d1.SetBool("b", true);
  const float e1[] = {1.0f, 1.0f};
  d1.set_embedding(e1);
  Doc d2 = AddDoc(l2, "a");
  d2.set_text("two");
  d2.SetDouble("f", 2.5);
  d2.SetBlob("blob", "");

  Reduce({&l0, &l1, &l2});
  Doc merged(l0.mutable_docs(0));
  EXPECT_EQ(merged.text(), "two");
  EXPECT_EQ(merged.GetInt("n"), 1);
  EXPECT_EQ(merged.GetDouble("f"), 2.5);
  EXPECT_EQ(merged.GetBool("b"), true);
  EXPECT_EQ(merged.GetBlob("blob"), "");  // an empty string is a value, not None
  EXPECT_THAT(merged.embedding(), ElementsAre(1.0f, 1.0f));
}

TEST(MergeDocTest, NoneNeverOverwrites) {
  docarray::DocProto left, right;
  Doc l(&left);
  l.set_text("kept");
  l.SetInt("n", 3);
  (*right.mutable_data())["text"];
  (*right.mutable_data())["n"].set_type("int");  // a type tag alone is still None
  (*right.mutable_data())["absent_left"];
  MergeDoc(left, right);
  EXPECT_EQ(l.text(), "kept");
  EXPECT_EQ(l.GetInt("n"), 3);
  EXPECT_FALSE(l.Has("absent_left"));
}

TEST(MergeDocTest, NoneOnTheLeftTakesTheRight) {
  docarray::DocProto left, right;
  (*left.mutable_data())["text"];
  Doc(&right).set_text("filled");
  MergeDoc(left, right);
  EXPECT_EQ(Doc(&left).text(), "filled");
}

TEST(MergeDocTest, FieldsOnlyOnTheRightAreAdded) {
  docarray::DocProto left, right;
  Doc(&right).SetText("extra", "x");
  MergeDoc(left, right);
  EXPECT_EQ(Doc(&left).GetText("extra"), "x");
}

TEST(MergeDocTest, ListsConcatenate) {
  docarray::DocProto left, right;
  auto* l = (*left.mutable_data())["tags"].mutable_list();
  l->add_data()->set_text("a");
  l->add_data()->set_text("b");
  auto* r = (*right.mutable_data())["tags"].mutable_list();
  r->add_data()->set_text("b");
  r->add_data()->set_integer(3);
  MergeDoc(left, right);
  const auto& merged = left.data().at("tags").list();
  ASSERT_EQ(merged.data_size(), 4);
  EXPECT_EQ(merged.data(0).text(), "a");
  EXPECT_EQ(merged.data(1).text(), "b");
  EXPECT_EQ(merged.data(2).text(), "b");
  EXPECT_EQ(merged.data(3).integer(), 3);
}

TEST(MergeDocTest, SetsUnionWithoutDuplicates) {
  docarray::DocProto left, right;
  auto* l = (*left.mutable_data())["labels"].mutable_set();
  l->add_data()->set_text("a");
  l->add_data()->set_integer(1);
  auto* r = (*right.mutable_data())["labels"].mutable_set();
  r->add_data()->set_text("a");
  r->add_data()->set_text("c");
  r->add_data()->set_text("1");  // the text "1" is not the integer 1
  r->add_data()->set_text("c");
  MergeDoc(left, right);
  std::vector<std::string> values;
  for (const docarray::NodeProto& item : left.data().at("labels").set().data()) {
    values.push_back(item.has_text() ? item.text() : absl::StrCat(item.integer(), "i"));
  }
  EXPECT_THAT(values, UnorderedElementsAre("a", "1i", "c", "1"));
}

TEST(MergeDocTest, SetsOfCompositeValuesCompareByContent) {
  docarray::DocProto left, right;
  auto* l = (*left.mutable_data())["pairs"].mutable_set()->add_data()->mutable_tuple();
  l->add_data()->set_integer(1);
  l->add_data()->set_text("x");
  auto* r = (*right.mutable_data())["pairs"].mutable_set();
  *r->add_data() = left.data().at("pairs").set().data(0);
  auto* other = r->add_data()->mutable_tuple();
  other->add_data()->set_integer(2);
  MergeDoc(left, right);
  EXPECT_EQ(left.data().at("pairs").set().data_size(), 2);
}

TEST(MergeDocTest, DictsUpdatePerKeyRightWins) {
  docarray::DocProto left, right;
  auto* l = (*left.mutable_data())["tags"].mutable_dict()->mutable_data();
  (*l)["keep"].set_text("left");
  (*l)["both"].set_text("left");
  auto* r = (*right.mutable_data())["tags"].mutable_dict()->mutable_data();
  (*r)["both"].set_integer(2);
  (*r)["new"].set_boolean(true);
  MergeDoc(left, right);
  const auto& merged = left.data().at("tags").dict().data();
  EXPECT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged.at("keep").text(), "left");
  EXPECT_EQ(merged.at("both").integer(), 2);
  EXPECT_TRUE(merged.at("new").boolean());
}

TEST(MergeDocTest, TuplesAreScalars) {
  docarray::DocProto left, right;
  (*left.mutable_data())["t"].mutable_tuple()->add_data()->set_integer(1);
  auto* r = (*right.mutable_data())["t"].mutable_tuple();
  r->add_data()->set_integer(2);
  r->add_data()->set_integer(3);
  MergeDoc(left, right);
  const auto& merged = left.data().at("t").tuple();
  ASSERT_EQ(merged.data_size(), 2);
  EXPECT_EQ(merged.data(0).integer(), 2);
}

TEST(MergeDocTest, NestedDocsMergeRecursively) {
  docarray::DocProto left, right;
  Doc l = Doc(&left).MutableDoc("meta");
  l.SetText("a", "left");
  l.SetText("b", "left");
  auto* l_list = l.mutable_node("xs")->mutable_list();
  l_list->add_data()->set_integer(1);
  Doc r = Doc(&right).MutableDoc("meta");
  r.SetText("b", "right");
  r.mutable_node("xs")->mutable_list()->add_data()->set_integer(2);
  MergeDoc(left, right);
  Doc merged = Doc(&left).MutableDoc("meta");
  EXPECT_EQ(merged.GetText("a"), "left");
  EXPECT_EQ(merged.GetText("b"), "right");
  EXPECT_EQ(merged.node("xs")->list().data_size(), 2);
}

TEST(MergeDocTest, AKindChangeTakesTheRight) {
  docarray::DocProto left, right;
  Doc(&left).SetText("v", "text");
  (*right.mutable_data())["v"].mutable_list()->add_data()->set_integer(1);
  MergeDoc(left, right);
  EXPECT_TRUE(left.data().at("v").has_list());
}

TEST(MergeDocTest, MergingADocWithItselfIsSafe) {
  docarray::DocProto doc;
  Doc(&doc).mutable_node("xs")->mutable_list()->add_data()->set_integer(1);
  MergeDoc(doc, doc);
  EXPECT_EQ(doc.data().at("xs").list().data_size(), 2);
}

TEST(ReduceTest, DocsWithoutIdAreAppended) {
  docarray::DocListProto l0, l1;
  Doc(l0.add_docs()).set_text("no id");
  Doc(l1.add_docs()).set_text("no id");
  Reduce({&l0, &l1});
  EXPECT_EQ(l0.docs_size(), 2);
}

TEST(ReduceTest, NullAndSingleParts) {
  docarray::DocListProto l0;
  AddDoc(l0, "a");
  Reduce({&l0});
  Reduce({&l0, nullptr});
  Reduce({});
  EXPECT_THAT(Ids(l0), ElementsAre("a"));
}

TEST(ReduceTest, IsDeterministic) {
  auto make_parts = [](std::vector<docarray::DocListProto>& parts) {
    parts.resize(3);
    for (int p = 0; p < 3; ++p) {
      for (int i = 0; i < 20; ++i) {
        Doc doc = AddDoc(parts[p], absl::StrCat("d", (i * 7 + p * 3) % 25));
        doc.SetInt("shard", p);
        const double score[] = {p + i / 100.0};
        doc.set_scores(score);
        auto* tags = doc.mutable_node("tags")->mutable_dict()->mutable_data();
        (*tags)[absl::StrCat("k", i % 4)].set_integer(p);
        Doc match = doc.matches().Add();
        match.set_id(absl::StrCat("m", i % 5));
        match.SetInt("from", p);
      }
    }
  };
  std::string first;
  for (int run = 0; run < 5; ++run) {
    std::vector<docarray::DocListProto> parts;
    make_parts(parts);
    Reduce({&parts[0], &parts[1], &parts[2]});
    std::string wire;
    google::protobuf::io::StringOutputStream stream(&wire);
    {
      google::protobuf::io::CodedOutputStream out(&stream);
      out.SetSerializationDeterministic(true);
      ASSERT_TRUE(parts[0].SerializeToCodedStream(&out));
    }
    if (run == 0) {
      first = wire;
      EXPECT_EQ(parts[0].docs_size(), 25);
    } else {
      EXPECT_EQ(wire, first) << "run " << run;
    }
  }
}

}  // namespace
}  // namespace shoal::doc
