// Tests of the document model: every docarray NodeProto kind survives the wire, the typed
// accessors read and write docarray's encoding, and embeddings are read without copying.
#include "shoal/doc.h"

#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "docarray.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.pb.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Serializes `proto` and parses the bytes back, as a peer would receive it.
docarray::DocProto WireRoundTrip(const docarray::DocProto& proto) {
  std::string wire;
  EXPECT_TRUE(proto.SerializeToString(&wire));
  docarray::DocProto parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire));
  return parsed;
}

bool IsLowerHex32(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(DocTest, EveryNodeKindSurvivesTheWire) {
  docarray::DocProto proto;
  Doc doc(&proto);
  doc.SetText("s", "hello");
  doc.SetInt("i", -42);
  doc.SetDouble("f", 2.5);
  doc.SetBool("b", true);
  doc.SetBlob("blob", std::string("\0\x01\xff", 3));
  const float values[] = {1.0f, -2.0f, 3.5f, 0.0f, 5.0f, 6.0f};
  const uint32_t shape[] = {2, 3};
  doc.SetNdArray("tensor", values, shape);
  doc.MutableDoc("child").SetText("text", "nested");
  doc.MutableDocList("children").Add().SetText("text", "in a list");
  docarray::ListOfAnyProto* list = doc.mutable_node("list")->mutable_list();
  list->add_data()->set_integer(1);
  list->add_data()->set_text("two");
  docarray::ListOfAnyProto* set = doc.mutable_node("set")->mutable_set();
  set->add_data()->set_text("a");
  set->add_data()->set_text("b");
  docarray::ListOfAnyProto* tuple = doc.mutable_node("tuple")->mutable_tuple();
  tuple->add_data()->set_float_(0.5);
  tuple->add_data()->set_boolean(false);
  auto* dict = doc.mutable_node("dict")->mutable_dict()->mutable_data();
  (*dict)["k"].set_text("v");
  (*dict)["n"].set_integer(7);
  doc.mutable_node("none");

  docarray::DocProto parsed_proto = WireRoundTrip(proto);
  Doc parsed(&parsed_proto);

  EXPECT_EQ(parsed.GetText("s"), "hello");
  EXPECT_EQ(parsed.GetInt("i"), -42);
  EXPECT_EQ(parsed.GetDouble("f"), 2.5);
  EXPECT_EQ(parsed.GetBool("b"), true);
  EXPECT_EQ(parsed.GetBlob("blob"), std::string_view("\0\x01\xff", 3));

  std::optional<NdArrayView> tensor = parsed.GetNdArray("tensor");
  ASSERT_TRUE(tensor.has_value());
  EXPECT_EQ(tensor->dtype(), "<f4");
  EXPECT_THAT(tensor->shape(), ElementsAre(2u, 3u));
  EXPECT_EQ(tensor->num_elements(), 6u);
  EXPECT_THAT(tensor->floats(), ElementsAre(1.0f, -2.0f, 3.5f, 0.0f, 5.0f, 6.0f));
  EXPECT_EQ(parsed.node("tensor")->type(), "ndarray");

  ASSERT_TRUE(parsed.node("child")->has_doc());
  EXPECT_EQ(parsed.MutableDoc("child").text(), "nested");
  ASSERT_TRUE(parsed.node("children")->has_doc_array());
  DocList children = parsed.MutableDocList("children");
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].text(), "in a list");

  const docarray::NodeProto* list_node = parsed.node("list");
  ASSERT_TRUE(list_node->has_list());
  ASSERT_EQ(list_node->list().data_size(), 2);
  EXPECT_EQ(list_node->list().data(0).integer(), 1);
  EXPECT_EQ(list_node->list().data(1).text(), "two");

  const docarray::NodeProto* set_node = parsed.node("set");
  ASSERT_TRUE(set_node->has_set());
  ASSERT_EQ(set_node->set().data_size(), 2);
  EXPECT_EQ(set_node->set().data(0).text(), "a");
  EXPECT_EQ(set_node->set().data(1).text(), "b");

  const docarray::NodeProto* tuple_node = parsed.node("tuple");
  ASSERT_TRUE(tuple_node->has_tuple());
  ASSERT_EQ(tuple_node->tuple().data_size(), 2);
  EXPECT_EQ(tuple_node->tuple().data(0).float_(), 0.5);
  EXPECT_TRUE(tuple_node->tuple().data(1).has_boolean());
  EXPECT_FALSE(tuple_node->tuple().data(1).boolean());

  const docarray::NodeProto* dict_node = parsed.node("dict");
  ASSERT_TRUE(dict_node->has_dict());
  EXPECT_EQ(dict_node->dict().data().at("k").text(), "v");
  EXPECT_EQ(dict_node->dict().data().at("n").integer(), 7);

  const docarray::NodeProto* none = parsed.node("none");
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->content_case(), docarray::NodeProto::CONTENT_NOT_SET);
  EXPECT_FALSE(parsed.Has("none"));
  EXPECT_TRUE(parsed.Has("s"));
  EXPECT_FALSE(parsed.Has("missing"));
  EXPECT_EQ(parsed.node("missing"), nullptr);
}

TEST(DocTest, TypedAccessorsOfTheTextDocSchema) {
  docarray::DocProto proto;
  Doc doc(&proto);
  doc.set_id("0123456789abcdef0123456789abcdef");
  doc.set_text("a text");
  doc.set_url("https://example.com/a.png");
  doc.set_bytes(std::string("\0raw", 4));

  docarray::DocProto parsed_proto = WireRoundTrip(proto);
  Doc parsed(&parsed_proto);
  EXPECT_EQ(parsed.id(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(parsed.text(), "a text");
  EXPECT_EQ(parsed.url(), "https://example.com/a.png");
  EXPECT_EQ(parsed.bytes(), std::string_view("\0raw", 4));

  // docarray's encoding: the id is text tagged "id"; text and url are plain text; bytes_ a blob.
  const auto& data = parsed_proto.data();
  EXPECT_TRUE(data.at("id").has_text());
  EXPECT_EQ(data.at("id").type(), "id");
  EXPECT_TRUE(data.at("text").has_text());
  EXPECT_FALSE(data.at("text").has_type());
  EXPECT_TRUE(data.at("url").has_text());
  EXPECT_TRUE(data.at("bytes_").has_blob());
}

TEST(DocTest, ReadsUrlsTaggedByPython) {
  docarray::DocProto proto;
  docarray::NodeProto& url = (*proto.mutable_data())["url"];
  url.set_text("https://example.com/");
  url.set_type("any_url");
  EXPECT_EQ(Doc(&proto).url(), "https://example.com/");
}

TEST(DocTest, AbsentFieldsReadEmpty) {
  docarray::DocProto proto;
  Doc doc(&proto);
  EXPECT_EQ(doc.id(), "");
  EXPECT_EQ(doc.text(), "");
  EXPECT_EQ(doc.url(), "");
  EXPECT_EQ(doc.bytes(), "");
  EXPECT_THAT(doc.embedding(), IsEmpty());
  EXPECT_THAT(doc.mutable_embedding(), IsEmpty());
  EXPECT_THAT(doc.scores(), IsEmpty());
  EXPECT_EQ(doc.GetText("x"), std::nullopt);
  EXPECT_EQ(doc.GetInt("x"), std::nullopt);
  EXPECT_EQ(doc.GetDouble("x"), std::nullopt);
  EXPECT_EQ(doc.GetBool("x"), std::nullopt);
  EXPECT_EQ(doc.GetBlob("x"), std::nullopt);
  EXPECT_FALSE(doc.GetNdArray("x").has_value());
}

TEST(DocTest, GettersOfAnotherKindReadNothing) {
  docarray::DocProto proto;
  Doc doc(&proto);
  doc.SetText("t", "3");
  doc.SetInt("i", 3);
  EXPECT_EQ(doc.GetInt("t"), std::nullopt);
  EXPECT_EQ(doc.GetDouble("t"), std::nullopt);
  EXPECT_EQ(doc.GetText("i"), std::nullopt);
  EXPECT_EQ(doc.GetBool("i"), std::nullopt);
  EXPECT_EQ(doc.GetDouble("i"), 3.0);  // integers widen
}

TEST(DocTest, SettersReplaceTheWholeNode) {
  docarray::DocProto proto;
  Doc doc(&proto);
  doc.set_id("abc");
  doc.SetInt("id", 5);
  EXPECT_FALSE(proto.data().at("id").has_type());
  EXPECT_EQ(doc.id(), "");
  doc.set_id("def");
  EXPECT_EQ(doc.id(), "def");
  EXPECT_EQ(proto.data().at("id").type(), "id");
}

TEST(DocTest, EraseRemovesTheField) {
  docarray::DocProto proto;
  Doc doc(&proto);
  doc.set_text("x");
  doc.Erase("text");
  EXPECT_FALSE(doc.Has("text"));
  EXPECT_EQ(proto.data_size(), 0);
  doc.Erase("never-there");
}

TEST(DocTest, EmbeddingIsDocarrayNdArrayEncoding) {
  docarray::DocProto proto;
  Doc doc(&proto);
  const std::vector<float> values = {0.25f, -1.0f, 3.0f};
  doc.set_embedding(values);

  docarray::DocProto parsed = WireRoundTrip(proto);
  const docarray::NodeProto& node = parsed.data().at("embedding");
  EXPECT_EQ(node.type(), "ndarray");
  ASSERT_TRUE(node.has_ndarray());
  const docarray::DenseNdArrayProto& dense = node.ndarray().dense();
  EXPECT_EQ(dense.dtype(), "<f4");
  EXPECT_THAT(dense.shape(), ElementsAre(3u));
  // 0.25f, -1.0f and 3.0f as little-endian IEEE 754 single precision.
  const std::string expected("\x00\x00\x80\x3e\x00\x00\x80\xbf\x00\x00\x40\x40", 12);
  EXPECT_EQ(dense.buffer(), expected);
  EXPECT_THAT(Doc(&parsed).embedding(), ElementsAre(0.25f, -1.0f, 3.0f));
}

TEST(DocTest, EmbeddingIsReadInPlace) {
  docarray::DocProto proto;
  Doc doc(&proto);
  std::vector<float> values(128);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  doc.set_embedding(values);
  docarray::DocProto parsed = WireRoundTrip(proto);

  std::span<const float> embedding = Doc(&parsed).embedding();
  const std::string& buffer = parsed.data().at("embedding").ndarray().dense().buffer();
  ASSERT_EQ(embedding.size(), 128u);
  EXPECT_EQ(static_cast<const void*>(embedding.data()), static_cast<const void*>(buffer.data()));
  EXPECT_EQ(embedding[127], 127.0f);
}

TEST(DocTest, MutableEmbeddingWritesTheMessage) {
  docarray::DocProto proto;
  Doc doc(&proto);
  const float values[] = {3.0f, 4.0f};
  doc.set_embedding(values);
  std::span<float> writable = doc.mutable_embedding();
  ASSERT_EQ(writable.size(), 2u);
  writable[0] /= 5.0f;
  writable[1] /= 5.0f;
  docarray::DocProto parsed = WireRoundTrip(proto);
  EXPECT_THAT(Doc(&parsed).embedding(), ElementsAre(0.6f, 0.8f));
}

TEST(DocTest, EmbeddingOfAnotherDtypeOrSizeIsEmpty) {
  docarray::DocProto proto;
  Doc doc(&proto);
  const double wide[] = {1.0, 2.0};
  docarray::DenseNdArrayProto* dense =
      doc.mutable_node("embedding")->mutable_ndarray()->mutable_dense();
  dense->set_dtype("<f8");
  dense->add_shape(2);
  dense->set_buffer(reinterpret_cast<const char*>(wide), sizeof(wide));
  EXPECT_THAT(doc.embedding(), IsEmpty());
  EXPECT_THAT(doc.mutable_embedding(), IsEmpty());
  std::optional<NdArrayView> view = doc.GetNdArray("embedding");
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->dtype(), "<f8");
  EXPECT_EQ(view->bytes().size(), sizeof(wide));
  EXPECT_THAT(view->floats(), IsEmpty());

  dense->set_dtype("<f4");
  dense->set_shape(0, 3);  // 16 bytes do not hold 3 floats
  EXPECT_THAT(doc.embedding(), IsEmpty());
  dense->set_shape(0, 4);
  EXPECT_EQ(doc.embedding().size(), 4u);
  dense->add_shape(0xffffffffu);  // a product that overflows is not 4 elements
  dense->add_shape(0xffffffffu);
  dense->add_shape(0xffffffffu);
  EXPECT_THAT(doc.embedding(), IsEmpty());
}

TEST(DocTest, SetNdArrayKeepsTheShape) {
  docarray::DocProto proto;
  Doc doc(&proto);
  const float values[] = {1, 2, 3, 4};
  const uint32_t shape[] = {2, 2};
  doc.SetNdArray("m", values, shape);
  std::optional<NdArrayView> view = doc.GetNdArray("m");
  ASSERT_TRUE(view.has_value());
  EXPECT_THAT(view->shape(), ElementsAre(2u, 2u));
  EXPECT_EQ(view->num_elements(), 4u);
  EXPECT_EQ(view->floats().size(), 4u);
  EXPECT_EQ(proto.data().at("m").type(), "ndarray");
}

TEST(DocTest, RewritingAnArrayReplacesShapeValuesAndParameters) {
  docarray::DocProto proto;
  Doc doc(&proto);
  const float first[] = {1, 2, 3, 4, 5, 6};
  const uint32_t first_shape[] = {2, 3};
  doc.SetNdArray("embedding", first, first_shape);
  (*proto.mutable_data())["embedding"].mutable_ndarray()->mutable_parameters();
  const float second[] = {7, 8};
  doc.set_embedding(second);
  const docarray::NdArrayProto& array = proto.data().at("embedding").ndarray();
  EXPECT_FALSE(array.has_parameters());
  EXPECT_THAT(array.dense().shape(), ElementsAre(2u));
  EXPECT_THAT(doc.embedding(), ElementsAre(7.0f, 8.0f));
}

TEST(DocTest, SetTextOverATaggedTextIsPlainText) {
  docarray::DocProto proto;
  docarray::NodeProto& url = (*proto.mutable_data())["url"];
  url.set_text("https://old/");
  url.set_type("any_url");
  Doc doc(&proto);
  doc.set_url("https://new/");
  EXPECT_EQ(doc.url(), "https://new/");
  EXPECT_FALSE(proto.data().at("url").has_type());
}

TEST(DocTest, MatchesAndScoresAsQueryDoc) {
  docarray::DocProto proto;
  Doc query(&proto);
  query.set_id("q");
  Doc match = query.matches().Add();
  match.set_text("first");
  query.matches().Add().set_text("second");
  const double scores[] = {0.9, 0.5};
  query.set_scores(scores);

  docarray::DocProto parsed_proto = WireRoundTrip(proto);
  Doc parsed(&parsed_proto);
  EXPECT_TRUE(parsed_proto.data().at("matches").has_doc_array());
  DocList matches = parsed.matches();
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_EQ(matches[0].text(), "first");
  EXPECT_EQ(matches[1].text(), "second");
  EXPECT_TRUE(IsLowerHex32(matches[0].id()));
  EXPECT_THAT(parsed.scores(), ElementsAre(0.9, 0.5));
  const docarray::NodeProto& node = parsed_proto.data().at("scores");
  ASSERT_TRUE(node.has_list());
  EXPECT_TRUE(node.list().data(0).has_float_());
}

TEST(DocTest, ScoresReadIntegersWidened) {
  docarray::DocProto proto;
  auto* list = (*proto.mutable_data())["scores"].mutable_list();
  list->add_data()->set_integer(2);
  list->add_data()->set_float_(0.5);
  list->add_data()->set_text("not a score");
  EXPECT_THAT(Doc(&proto).scores(), ElementsAre(2.0, 0.5));
}

TEST(DocListTest, AddGivesFreshIds) {
  DocList docs;
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    Doc doc = docs.Add();
    EXPECT_TRUE(IsLowerHex32(doc.id())) << doc.id();
    EXPECT_EQ(doc.proto().data().at("id").type(), "id");
    ids.insert(std::string(doc.id()));
  }
  EXPECT_EQ(docs.size(), 100u);
  EXPECT_EQ(ids.size(), 100u);
}

TEST(DocListTest, NewDocIdIsDocarrayShaped) {
  EXPECT_TRUE(IsLowerHex32(NewDocId()));
  EXPECT_NE(NewDocId(), NewDocId());
}

TEST(DocListTest, ViewsARequestsDocsInPlace) {
  jina::DataRequestProto request;
  DocList docs(request.mutable_data()->mutable_docs());
  EXPECT_TRUE(docs.empty());
  docs.Add().set_text("one");
  docs.Add().set_text("two");
  for (Doc doc : docs) doc.set_text(std::string(doc.text()) + "!");

  std::string wire;
  ASSERT_TRUE(request.SerializeToString(&wire));
  jina::DataRequestProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  ASSERT_EQ(parsed.data().docs().docs_size(), 2);
  DocList parsed_docs(parsed.mutable_data()->mutable_docs());
  std::vector<std::string> texts;
  for (Doc doc : parsed_docs) texts.emplace_back(doc.text());
  EXPECT_THAT(texts, ElementsAre("one!", "two!"));
}

TEST(DocListTest, AppendCopies) {
  DocList docs;
  Doc first = docs.Add();
  first.set_text("a");
  Doc copy = docs.Append(first);
  copy.set_text("b");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text(), "a");
  EXPECT_EQ(docs[1].text(), "b");
  EXPECT_EQ(docs[0].id(), docs[1].id());
}

TEST(DocListTest, CloneIsDeep) {
  DocList docs;
  docs.Add().set_text("a");
  DocList clone = docs.Clone();
  clone[0].set_text("changed");
  EXPECT_EQ(docs[0].text(), "a");
  EXPECT_EQ(clone[0].text(), "changed");
  EXPECT_NE(&clone.proto(), &docs.proto());
}

TEST(DocListTest, ExtendMovesDocuments) {
  DocList docs;
  docs.Add().set_text("a");
  DocList more;
  more.Add().set_text("b");
  more.Add().set_text("c");
  const docarray::DocProto* moved = &more[0].proto();
  docs.Extend(std::move(more));
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[1].text(), "b");
  EXPECT_EQ(docs[2].text(), "c");
  EXPECT_EQ(&docs[1].proto(), moved);
}

TEST(DocListTest, ExtendFromAView) {
  docarray::DocListProto other_proto;
  DocList other(&other_proto);
  other.Add().set_text("x");
  DocList docs;
  docs.Extend(std::move(other));
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text(), "x");
  EXPECT_EQ(other_proto.docs_size(), 0);
}

TEST(DocListTest, MoveKeepsTheMessage) {
  DocList docs;
  docs.Add().set_text("a");
  docarray::DocListProto* message = &docs.proto();
  DocList moved(std::move(docs));
  EXPECT_EQ(&moved.proto(), message);
  DocList assigned;
  assigned = std::move(moved);
  EXPECT_EQ(&assigned.proto(), message);
  EXPECT_EQ(assigned[0].text(), "a");
}

TEST(DocListTest, Clear) {
  DocList docs;
  docs.Add();
  docs.Clear();
  EXPECT_TRUE(docs.empty());
}

}  // namespace
}  // namespace shoal
