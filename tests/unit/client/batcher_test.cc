// Tests of the lazy request batcher: request sizes, laziness, and what every request carries.
#include "src/client/batcher.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace shoal::client {
namespace {

DocList MakeDocs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text(absl::StrCat("doc ", i));
  return docs;
}

std::vector<int> RequestSizes(Batcher& batcher) {
  std::vector<int> sizes;
  while (auto request = batcher.Next()) sizes.push_back(request->data().docs().docs_size());
  return sizes;
}

RequestTemplate Template(size_t request_size) {
  RequestTemplate request;
  request.endpoint = "/index";
  request.request_size = request_size;
  return request;
}

TEST(BatcherTest, SplitsAListIntoRequestsWithARemainder) {
  DocList docs = MakeDocs(250);
  Batcher batcher(docs, Template(100));
  EXPECT_EQ(RequestSizes(batcher), (std::vector<int>{100, 100, 50}));
  EXPECT_EQ(batcher.requests_made(), 3u);
  EXPECT_EQ(batcher.docs_made(), 250u);
}

TEST(BatcherTest, ExactMultipleGivesNoEmptyTrailingRequest) {
  DocList docs = MakeDocs(200);
  Batcher batcher(docs, Template(100));
  EXPECT_EQ(RequestSizes(batcher), (std::vector<int>{100, 100}));
}

TEST(BatcherTest, SizeZeroSendsEverythingInOneRequest) {
  DocList docs = MakeDocs(1234);
  Batcher batcher(docs, Template(0));
  EXPECT_EQ(RequestSizes(batcher), (std::vector<int>{1234}));
}

TEST(BatcherTest, SizeOneSendsOneDocPerRequestInOrder) {
  DocList docs = MakeDocs(3);
  Batcher batcher(docs, Template(1));
  std::vector<std::string> texts;
  while (auto request = batcher.Next()) {
    ASSERT_EQ(request->data().docs().docs_size(), 1);
    DocList view(request->mutable_data()->mutable_docs());
    texts.emplace_back(view[0].text());
    EXPECT_EQ(view[0].id(), docs[texts.size() - 1].id());
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"doc 0", "doc 1", "doc 2"}));
}

TEST(BatcherTest, SizeLargerThanInputSendsOneRequest) {
  DocList docs = MakeDocs(7);
  Batcher batcher(docs, Template(100));
  EXPECT_EQ(RequestSizes(batcher), (std::vector<int>{7}));
}

TEST(BatcherTest, EmptyInputSendsOneRequestWithoutDocs) {
  DocList docs;
  Batcher from_list(docs, Template(10));
  EXPECT_EQ(RequestSizes(from_list), (std::vector<int>{0}));
  Batcher from_generator([](Doc&) { return false; }, Template(10));
  EXPECT_EQ(RequestSizes(from_generator), (std::vector<int>{0}));
}

TEST(BatcherTest, PullsTheGeneratorOnlyForTheRequestBeingBuilt) {
  int pulled = 0;
  Batcher batcher(
      [&pulled](Doc& doc) {
        if (pulled == 25) return false;
        doc.set_text(absl::StrCat(pulled++));
        return true;
      },
      Template(10));
  EXPECT_EQ(pulled, 0);
  ASSERT_NE(batcher.Next(), nullptr);
  EXPECT_EQ(pulled, 10);
  ASSERT_NE(batcher.Next(), nullptr);
  EXPECT_EQ(pulled, 20);
  auto last = batcher.Next();
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->data().docs().docs_size(), 5);
  EXPECT_EQ(batcher.Next(), nullptr);
}

TEST(BatcherTest, GeneratedDocsHaveFreshIds) {
  int n = 0;
  Batcher batcher([&n](Doc&) { return n++ < 3; }, Template(0));
  auto request = batcher.Next();
  ASSERT_NE(request, nullptr);
  DocList view(request->mutable_data()->mutable_docs());
  ASSERT_EQ(view.size(), 3u);
  EXPECT_EQ(view[0].id().size(), 32u);
  EXPECT_NE(view[0].id(), view[1].id());
}

TEST(BatcherTest, EveryRequestCarriesHeaderAndParameters) {
  DocList docs = MakeDocs(5);
  std::string error;
  std::optional<Params> parameters = Params::FromJson(R"({"top_k": 3, "name": "x"})", &error);
  ASSERT_TRUE(parameters.has_value()) << error;
  RequestTemplate with{.endpoint = "/search",
                       .target_executor = "enc.*",
                       .request_size = 2,
                       .parameters = *parameters};
  Batcher batcher(docs, with);
  absl::flat_hash_set<std::string> ids;
  int requests = 0;
  while (auto request = batcher.Next()) {
    ++requests;
    const jina::HeaderProto& header = request->header();
    EXPECT_EQ(header.exec_endpoint(), "/search");
    EXPECT_TRUE(header.has_target_executor());
    EXPECT_EQ(header.target_executor(), "enc.*");
    EXPECT_EQ(header.request_id().size(), 32u);
    ids.insert(header.request_id());
    Params sent(&request->parameters());
    EXPECT_EQ(sent.GetInt("top_k"), 3);
    EXPECT_EQ(sent.GetString("name"), "x");
    ASSERT_TRUE(sent.Has("__results__"));
    EXPECT_TRUE(sent.GetObject("__results__").empty());
  }
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(ids.size(), 3u);
}

TEST(BatcherTest, NoTargetExecutorAndResultsParameterByDefault) {
  DocList docs = MakeDocs(1);
  Batcher batcher(docs, Template(10));
  auto request = batcher.Next();
  ASSERT_NE(request, nullptr);
  EXPECT_FALSE(request->header().has_target_executor());
  EXPECT_TRUE(request->parameters().fields().contains("__results__"));
  EXPECT_EQ(request->parameters().fields_size(), 1);
}

}  // namespace
}  // namespace shoal::client
