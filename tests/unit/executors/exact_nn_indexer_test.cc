// Unit tests of the ExactNNIndexer built-in Executor: search results against a brute-force
// reference on seeded random data, limits, the batch and single-query paths, input errors, and
// snapshot files.
#include "executors/exact_nn_indexer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/params.h"
#include "tests/testing/temp_dir.h"

namespace shoal::builtin {
namespace {

using ::testing::HasSubstr;
using Metric = ExactNNIndexer::Metric;

constexpr uint32_t kSeed = 20240611;
constexpr size_t kDim = 24;

using ::shoal::testing::ParamsJson;

std::unique_ptr<ExactNNIndexer> MakeIndexer(std::string_view uses_with) {
  StatusOr<std::unique_ptr<ExactNNIndexer>> made = ExactNNIndexer::Create(ParamsJson(uses_with));
  EXPECT_TRUE(made.ok()) << made.status();
  return made.ok() ? std::move(made).value() : nullptr;
}

std::vector<std::vector<float>> RandomVectors(size_t n, size_t dim, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> vectors(n, std::vector<float>(dim));
  for (auto& v : vectors) {
    for (float& x : v) x = normal(rng);
  }
  return vectors;
}

DocList DocsOf(const std::vector<std::vector<float>>& vectors, std::string_view prefix = "id-") {
  DocList docs;
  for (size_t i = 0; i < vectors.size(); ++i) {
    Doc doc = docs.Add();
    doc.set_id(std::string(prefix) + std::to_string(i));
    doc.set_text("text of " + std::string(prefix) + std::to_string(i));
    doc.set_embedding(vectors[i]);
  }
  return docs;
}

double ReferenceScore(Metric metric, const std::vector<float>& q, const std::vector<float>& x) {
  double dot = 0, qq = 0, xx = 0, dd = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    dot += double{q[i]} * x[i];
    qq += double{q[i]} * q[i];
    xx += double{x[i]} * x[i];
    dd += (double{q[i]} - x[i]) * (double{q[i]} - x[i]);
  }
  return metric == Metric::kL2 ? std::sqrt(dd) : dot / std::sqrt(qq * xx);
}

// The brute-force answer: (score, index) of every stored vector, best first.
std::vector<std::pair<double, size_t>> Reference(Metric metric, const std::vector<float>& query,
                                                 const std::vector<std::vector<float>>& index) {
  std::vector<std::pair<double, size_t>> all;
  for (size_t i = 0; i < index.size(); ++i) {
    all.emplace_back(ReferenceScore(metric, query, index[i]), i);
  }
  std::sort(all.begin(), all.end(), [metric](const auto& a, const auto& b) {
    return metric == Metric::kL2 ? a.first < b.first : a.first > b.first;
  });
  return all;
}

// Checks one answered query against the brute-force reference, robust to near-ties: the i-th
// score equals the reference's i-th score, and the i-th match really has that score.
void ExpectMatchesReference(Metric metric, Doc query, const std::vector<float>& vector,
                            const std::vector<std::vector<float>>& index, size_t limit) {
  std::vector<std::pair<double, size_t>> reference = Reference(metric, vector, index);
  std::vector<double> scores = query.scores();
  DocList matches = query.matches();
  size_t k = std::min(limit, index.size());
  ASSERT_EQ(scores.size(), k);
  ASSERT_EQ(matches.size(), k);
  for (size_t i = 0; i < k; ++i) {
    SCOPED_TRACE("match " + std::to_string(i) + " of query " + std::string(query.id()));
    EXPECT_NEAR(scores[i], reference[i].first, 1e-5);
    std::string id(matches[i].id());
    ASSERT_TRUE(id.starts_with("id-")) << id;
    size_t row = std::stoul(id.substr(3));
    ASSERT_LT(row, index.size());
    EXPECT_NEAR(ReferenceScore(metric, vector, index[row]), scores[i], 1e-5);
    EXPECT_EQ(matches[i].text(), "text of " + id);
    EXPECT_EQ(matches[i].GetDouble("score"), std::optional<double>(scores[i]));
    if (i > 0) {
      if (metric == Metric::kL2) {
        EXPECT_LE(scores[i - 1], scores[i]);
      } else {
        EXPECT_GE(scores[i - 1], scores[i]);
      }
    }
  }
}

class ExactNNIndexerTest : public ::testing::TestWithParam<Metric> {
 protected:
  void SetUp() override {
    std::mt19937 rng(kSeed);
    index_ = RandomVectors(300, kDim, rng);
    queries_ = RandomVectors(9, kDim, rng);
    indexer_ = MakeIndexer(GetParam() == Metric::kL2 ? R"({"metric": "l2"})" : "{}");
    ASSERT_NE(indexer_, nullptr);
    ASSERT_EQ(indexer_->metric(), GetParam());
    DocList docs = DocsOf(index_);
    ASSERT_TRUE(indexer_->Index(docs, Params()).ok());
  }

  std::vector<std::vector<float>> index_;
  std::vector<std::vector<float>> queries_;
  std::unique_ptr<ExactNNIndexer> indexer_;
};

TEST_P(ExactNNIndexerTest, BatchSearchMatchesBruteForce) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  DocList queries = DocsOf(queries_, "q-");
  ASSERT_TRUE(indexer_->Search(queries, ParamsJson(R"({"limit": 7})")).ok());
  for (size_t i = 0; i < queries_.size(); ++i) {
    ExpectMatchesReference(GetParam(), queries[i], queries_[i], index_, 7);
  }
}

TEST_P(ExactNNIndexerTest, SingleQuerySearchMatchesBruteForce) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  for (size_t i = 0; i < queries_.size(); ++i) {
    DocList query = DocsOf({queries_[i]}, "q-");
    ASSERT_TRUE(indexer_->Search(query, ParamsJson(R"({"limit": 5})")).ok());
    ExpectMatchesReference(GetParam(), query[0], queries_[i], index_, 5);
  }
}

TEST_P(ExactNNIndexerTest, BatchAndSingleQueriesAgree) {
  DocList batch = DocsOf(queries_, "q-");
  ASSERT_TRUE(indexer_->Search(batch, Params()).ok());
  for (size_t i = 0; i < queries_.size(); ++i) {
    DocList single = DocsOf({queries_[i]}, "q-");
    ASSERT_TRUE(indexer_->Search(single, Params()).ok());
    std::vector<double> batch_scores = batch[i].scores();
    std::vector<double> single_scores = single[0].scores();
    ASSERT_EQ(batch_scores.size(), single_scores.size());
    for (size_t j = 0; j < batch_scores.size(); ++j) {
      EXPECT_EQ(batch[i].matches()[j].id(), single[0].matches()[j].id());
      EXPECT_NEAR(batch_scores[j], single_scores[j], 1e-9);
    }
  }
}

TEST_P(ExactNNIndexerTest, LimitDefaultsToTenAndIsCappedByTheIndexSize) {
  auto matches_for = [&](std::string_view params) -> size_t {
    DocList queries = DocsOf({queries_[0], queries_[1]}, "q-");
    EXPECT_TRUE(indexer_->Search(queries, ParamsJson(params)).ok());
    EXPECT_EQ(queries[0].matches().size(), queries[1].scores().size());
    return queries[0].matches().size();
  };
  EXPECT_EQ(matches_for("{}"), 10u);
  EXPECT_EQ(matches_for(R"({"limit": 1})"), 1u);
  EXPECT_EQ(matches_for(R"({"limit": 0})"), 0u);
  EXPECT_EQ(matches_for(R"({"limit": 100000})"), index_.size());
  DocList query = DocsOf({queries_[0]}, "q-");
  EXPECT_EQ(indexer_->Search(query, ParamsJson(R"({"limit": -1})")).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ExactNNIndexerTest, StoredVectorIsItsOwnBestMatch) {
  DocList query = DocsOf({index_[42]}, "q-");
  ASSERT_TRUE(indexer_->Search(query, ParamsJson(R"({"limit": 3})")).ok());
  EXPECT_EQ(query[0].matches()[0].id(), "id-42");
  EXPECT_NEAR(query[0].scores()[0], GetParam() == Metric::kL2 ? 0.0 : 1.0, 1e-6);
}

TEST_P(ExactNNIndexerTest, ReindexingAnIdReplacesIt) {
  std::vector<float> replacement = queries_[3];
  DocList docs;
  Doc doc = docs.Add();
  doc.set_id("id-7");
  doc.set_text("replaced");
  doc.set_embedding(replacement);
  ASSERT_TRUE(indexer_->Index(docs, Params()).ok());
  EXPECT_EQ(indexer_->size(), index_.size());

  index_[7] = replacement;
  DocList query = DocsOf({replacement}, "q-");
  ASSERT_TRUE(indexer_->Search(query, ParamsJson(R"({"limit": 4})")).ok());
  EXPECT_EQ(query[0].matches()[0].id(), "id-7");
  EXPECT_EQ(query[0].matches()[0].text(), "replaced");
  DocList others = DocsOf({queries_[0]}, "q-");
  ASSERT_TRUE(indexer_->Search(others, ParamsJson(R"({"limit": 300})")).ok());
  std::vector<double> scores = others[0].scores();
  for (size_t i = 0; i < scores.size(); ++i) {
    std::string id(others[0].matches()[i].id());
    if (id == "id-7") {
      EXPECT_NEAR(scores[i], ReferenceScore(GetParam(), queries_[0], replacement), 1e-5);
    }
  }
}

TEST_P(ExactNNIndexerTest, CountAnswersTheNumberOfStoredDocs) {
  DocList docs = DocsOf({queries_[0]}, "q-");
  ASSERT_TRUE(indexer_->Count(docs, Params()).ok());
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text(), "300");
  EXPECT_TRUE(docs[0].Has("served_by"));
}

INSTANTIATE_TEST_SUITE_P(Metrics, ExactNNIndexerTest,
                         ::testing::Values(Metric::kCosine, Metric::kL2), [](const auto& info) {
                           return info.param == Metric::kL2 ? std::string("L2")
                                                            : std::string("Cosine");
                         });

// Enough rows that a batch of queries is scored in several sgemm blocks.
TEST(ExactNNIndexerLargeTest, BlockedBatchAgreesWithSingleQueries) {
  std::mt19937 rng(kSeed);
  std::vector<std::vector<float>> index = RandomVectors(300000, 2, rng);
  std::vector<std::vector<float>> queries = RandomVectors(24, 2, rng);
  std::unique_ptr<ExactNNIndexer> indexer = MakeIndexer(R"({"metric": "l2"})");
  DocList docs = DocsOf(index);
  ASSERT_TRUE(indexer->Index(docs, Params()).ok());
  DocList batch = DocsOf(queries, "q-");
  ASSERT_TRUE(indexer->Search(batch, ParamsJson(R"({"limit": 3})")).ok());
  for (size_t i = 0; i < queries.size(); ++i) {
    DocList single = DocsOf({queries[i]}, "q-");
    ASSERT_TRUE(indexer->Search(single, ParamsJson(R"({"limit": 3})")).ok());
    EXPECT_EQ(batch[i].scores(), single[0].scores()) << "query " << i;
    EXPECT_EQ(batch[i].matches()[0].id(), single[0].matches()[0].id()) << "query " << i;
  }
}

TEST(ExactNNIndexerErrorsTest, DimensionMismatchNamesTheDocAndBothDimensions) {
  std::unique_ptr<ExactNNIndexer> indexer = MakeIndexer("{}");
  DocList good = DocsOf({{1, 0, 0, 0}});
  ASSERT_TRUE(indexer->Index(good, Params()).ok());
  EXPECT_EQ(indexer->dim(), 4u);

  DocList mixed = DocsOf({{0, 1, 0, 0}, {1, 2, 3}}, "new-");
  Status status = indexer->Index(mixed, Params());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'new-1'"));
  EXPECT_THAT(status.message(), HasSubstr("dimension 3"));
  EXPECT_THAT(status.message(), HasSubstr("dimension 4"));
  EXPECT_EQ(indexer->size(), 1u) << "a failed /index must store nothing";

  DocList query = DocsOf({{1, 2, 3, 4, 5}}, "q-");
  status = indexer->Search(query, Params());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'q-0'"));
  EXPECT_THAT(status.message(), HasSubstr("dimension 5"));
}

TEST(ExactNNIndexerErrorsTest, DocWithoutEmbeddingIsRejected) {
  std::unique_ptr<ExactNNIndexer> indexer = MakeIndexer("{}");
  DocList docs;
  docs.Add().set_id("plain");
  Status status = indexer->Index(docs, Params());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'plain'"));
  EXPECT_EQ(indexer->size(), 0u);

  DocList nan = DocsOf({{1.0f, std::nanf("")}});
  EXPECT_EQ(indexer->Index(nan, Params()).code(), absl::StatusCode::kInvalidArgument);
}

// Values around 1e19 are finite floats, but their dot products are not: before they were
// refused, they overflowed to inf and /search answered wrong neighbours without an error.
TEST(ExactNNIndexerErrorsTest, EmbeddingsWhoseProductsOverflowAreRejected) {
  for (const char* with : {"{}", R"({"metric": "l2"})"}) {
    SCOPED_TRACE(with);
    std::unique_ptr<ExactNNIndexer> indexer = MakeIndexer(with);
    DocList huge = DocsOf({{1, 2, 3}, {1e19f, 1e19f, 1e19f}});
    Status status = indexer->Index(huge, Params());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("doc 'id-1'"));
    EXPECT_THAT(status.message(), HasSubstr("embedding"));
    EXPECT_THAT(status.message(), HasSubstr("norm 1.7e+19"));
    EXPECT_EQ(indexer->size(), 0u) << "a failed /index must store nothing";

    DocList good = DocsOf({{1, 2, 3}, {3, 2, 1}});
    ASSERT_TRUE(indexer->Index(good, Params()).ok());
    DocList query = DocsOf({{1e19f, 0, 0}}, "q-");
    status = indexer->Search(query, Params());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("query 'q-0'"));
    EXPECT_THAT(status.message(), HasSubstr("embedding"));

    // Too small is as bad: the squared norm is no longer a normal float.
    DocList tiny = DocsOf({{1e-30f, 0, 0}}, "tiny-");
    status = indexer->Index(tiny, Params());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("doc 'tiny-0'"));
  }
}

TEST(ExactNNIndexerErrorsTest, LargeEmbeddingsWithinTheBoundRankExactly) {
  for (const char* with : {"{}", R"({"metric": "l2"})"}) {
    SCOPED_TRACE(with);
    std::unique_ptr<ExactNNIndexer> indexer = MakeIndexer(with);
    // Norms just under the bound (about 9.2e18), where float products are still finite.
    DocList docs = DocsOf({{9e18f, 0}, {0, 9e18f}, {-9e18f, 0}});
    ASSERT_TRUE(indexer->Index(docs, Params()).ok());
    DocList query = DocsOf({{8e18f, 1e18f}}, "q-");
    ASSERT_TRUE(indexer->Search(query, Params()).ok());
    ASSERT_EQ(query[0].matches().size(), 3u);
    EXPECT_EQ(query[0].matches()[0].id(), "id-0");
    EXPECT_EQ(query[0].matches()[1].id(), "id-1");
    EXPECT_EQ(query[0].matches()[2].id(), "id-2");
    for (double score : query[0].scores()) EXPECT_TRUE(std::isfinite(score));
  }
}

TEST(ExactNNIndexerErrorsTest, BadUsesWithIsRejected) {
  EXPECT_EQ(ExactNNIndexer::Create(ParamsJson(R"({"metric": "dot"})")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExactNNIndexer::Create(ParamsJson(R"({"metric": 2})")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExactNNIndexer::Create(ParamsJson(R"({"blas_threads": 0})")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ExactNNIndexer::Create(ParamsJson(R"({"metric": "L2", "blas_threads": 1})")).ok());
}

TEST(ExactNNIndexerErrorsTest, EmptyIndexAndZeroVectorsGiveNoErrors) {
  std::unique_ptr<ExactNNIndexer> indexer = MakeIndexer("{}");
  DocList query = DocsOf({{1, 2}}, "q-");
  ASSERT_TRUE(indexer->Search(query, Params()).ok());
  EXPECT_EQ(query[0].matches().size(), 0u);
  EXPECT_TRUE(query[0].scores().empty());

  DocList docs = DocsOf({{0, 0}, {1, 1}});
  ASSERT_TRUE(indexer->Index(docs, Params()).ok());
  DocList zero = DocsOf({{0, 0}}, "q-");
  ASSERT_TRUE(indexer->Search(zero, Params()).ok());
  for (double score : zero[0].scores()) EXPECT_EQ(score, 0.0);
}

class ExactNNSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("nn");
    dir_ = tmp_->path();
    file_ = dir_ / "index.snap";
    std::mt19937 rng(kSeed);
    index_ = RandomVectors(50, kDim, rng);
    indexer_ = MakeIndexer(R"({"metric": "l2"})");
    DocList docs = DocsOf(index_);
    ASSERT_TRUE(indexer_->Index(docs, Params()).ok());
    ASSERT_TRUE(indexer_->Snapshot(file_).ok());
  }
  void TearDown() override { tmp_.reset(); }

  // Overwrites `size` bytes at `offset` of the snapshot.
  void Patch(std::streamoff offset, const void* bytes, size_t size) {
    std::fstream f(file_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
  }

  void ExpectDataLoss(ExactNNIndexer& target) {
    Status status = target.Restore(file_);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(status.message(), HasSubstr(file_.string()));
  }

  std::optional<testing::TempDir> tmp_;
  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::vector<std::vector<float>> index_;
  std::unique_ptr<ExactNNIndexer> indexer_;
};

TEST_F(ExactNNSnapshotTest, RestoreGivesTheSameAnswers) {
  EXPECT_FALSE(std::filesystem::exists(file_.string() + ".tmp"));
  std::unique_ptr<ExactNNIndexer> restored = MakeIndexer(R"({"metric": "l2"})");
  DocList existing = DocsOf({{1, 2, 3}}, "stale-");
  ASSERT_TRUE(restored->Index(existing, Params()).ok());
  ASSERT_TRUE(restored->Restore(file_).ok());
  EXPECT_EQ(restored->size(), 50u);
  EXPECT_EQ(restored->dim(), kDim);

  std::mt19937 rng(kSeed + 1);
  std::vector<std::vector<float>> queries = RandomVectors(4, kDim, rng);
  DocList before = DocsOf(queries, "q-");
  DocList after = DocsOf(queries, "q-");
  ASSERT_TRUE(indexer_->Search(before, Params()).ok());
  ASSERT_TRUE(restored->Search(after, Params()).ok());
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(before[i].scores(), after[i].scores());
    for (size_t j = 0; j < 10; ++j) {
      EXPECT_EQ(before[i].matches()[j].id(), after[i].matches()[j].id());
      EXPECT_EQ(after[i].matches()[j].text(), "text of " + std::string(after[i].matches()[j].id()));
    }
  }
  // The restored index keeps accepting writes, replacing known ids.
  DocList update = DocsOf({queries[0]});
  ASSERT_TRUE(restored->Index(update, Params()).ok());
  EXPECT_EQ(restored->size(), 50u);
}

TEST_F(ExactNNSnapshotTest, FlippedVectorByteIsDataLoss) {
  uintmax_t size = std::filesystem::file_size(file_);
  char byte = 0x5a;
  Patch(static_cast<std::streamoff>(size - 8 - 100), &byte, 1);  // inside the vectors
  std::unique_ptr<ExactNNIndexer> restored = MakeIndexer(R"({"metric": "l2"})");
  ExpectDataLoss(*restored);
  EXPECT_EQ(restored->size(), 0u);
}

TEST_F(ExactNNSnapshotTest, ImpossibleCountIsDataLoss) {
  uint64_t count = uint64_t{1} << 40;
  Patch(16, &count, sizeof(count));  // after magic, version and dimension
  ExpectDataLoss(*indexer_);
  EXPECT_EQ(indexer_->size(), 50u) << "a failed Restore keeps the previous state";
}

TEST_F(ExactNNSnapshotTest, TruncatedFileIsDataLoss) {
  for (uintmax_t size : {std::filesystem::file_size(file_) - 1, uintmax_t{30}, uintmax_t{4}}) {
    std::filesystem::resize_file(file_, size);
    SCOPED_TRACE("size " + std::to_string(size));
    ExpectDataLoss(*indexer_);
  }
}

TEST_F(ExactNNSnapshotTest, MissingFileIsNotFound) {
  EXPECT_EQ(indexer_->Restore(dir_ / "absent").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace shoal::builtin
