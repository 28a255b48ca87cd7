// Unit tests of ExactNNIndex, the exact-NN core shared by the ExactNNIndexer Executor and the
// Python package: upserts, removal (the last row moves into the gap), search against a
// brute-force reference after removals, and Assign's duplicate check.
#include "executors/exact_nn_index.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::builtin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<float> Vec(std::initializer_list<float> values) { return values; }

// The rows of `index` ranked by exact cosine similarity to `q`, best first (ties by row).
std::vector<uint32_t> BruteForce(const ExactNNIndex& index, const std::vector<float>& q) {
  std::vector<std::pair<double, uint32_t>> scored;
  for (uint32_t r = 0; r < index.size(); ++r) {
    double dot = 0, qq = 0, xx = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      dot += double{q[i]} * index.vector(r)[i];
      qq += double{q[i]} * q[i];
      xx += double{index.vector(r)[i]} * index.vector(r)[i];
    }
    scored.emplace_back(-dot / std::sqrt(qq * xx), r);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<uint32_t> rows;
  for (const auto& [score, row] : scored) rows.push_back(row);
  return rows;
}

std::vector<uint32_t> SearchRows(const ExactNNIndex& index, const std::vector<float>& q,
                                 size_t limit) {
  std::vector<uint32_t> rows;
  index.Search(q, 1, limit, [&](size_t i, std::span<const ExactNNIndex::Match> matches) {
    EXPECT_EQ(i, 0u);
    for (const auto& m : matches) rows.push_back(m.row);
  });
  return rows;
}

TEST(ExactNNIndexTest, UpsertReplacesTheVectorOfAnIdInPlace) {
  ExactNNIndex index(ExactNNIndex::Metric::kCosine);
  EXPECT_EQ(index.Upsert("a", Vec({1, 0})), 0u);
  EXPECT_EQ(index.Upsert("b", Vec({0, 1})), 1u);
  EXPECT_EQ(index.Upsert("a", Vec({0, 2})), 0u);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.dim(), 2u);
  EXPECT_THAT(std::vector<float>(index.vector(0).begin(), index.vector(0).end()),
              ElementsAre(0, 2));
}

TEST(ExactNNIndexTest, RemoveMovesTheLastRowIntoTheGap) {
  ExactNNIndex index(ExactNNIndex::Metric::kCosine);
  index.Upsert("a", Vec({1, 0}));
  index.Upsert("b", Vec({0, 1}));
  index.Upsert("c", Vec({1, 1}));
  EXPECT_EQ(index.Remove("a"), 0u);
  EXPECT_EQ(index.Remove("a"), std::nullopt);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.id(0), "c");
  EXPECT_EQ(index.RowOf("c"), 0u);
  EXPECT_EQ(index.RowOf("b"), 1u);
  EXPECT_EQ(index.RowOf("a"), std::nullopt);
  EXPECT_THAT(SearchRows(index, Vec({1, 0.9f}), 10), ElementsAre(0, 1));
  EXPECT_EQ(index.Remove("b"), 1u);
  EXPECT_EQ(index.Remove("c"), 0u);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.dim(), 0u);  // an emptied index takes any dimension again
  index.Upsert("d", Vec({1, 2, 3}));
  EXPECT_EQ(index.dim(), 3u);
}

TEST(ExactNNIndexTest, SearchAfterRemovalsMatchesBruteForce) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  ExactNNIndex index(ExactNNIndex::Metric::kCosine);
  for (int i = 0; i < 200; ++i) {
    std::vector<float> v(16);
    for (float& x : v) x = normal(rng);
    index.Upsert("id" + std::to_string(i), v);
  }
  for (int i = 0; i < 200; i += 3) ASSERT_TRUE(index.Remove("id" + std::to_string(i)).has_value());
  for (int q = 0; q < 10; ++q) {
    std::vector<float> query(16);
    for (float& x : query) x = normal(rng);
    std::vector<uint32_t> expected = BruteForce(index, query);
    expected.resize(7);
    EXPECT_EQ(SearchRows(index, query, 7), expected);
  }
}

TEST(ExactNNIndexTest, SearchOnAnEmptyIndexVisitsEveryQueryWithNoMatches) {
  ExactNNIndex index(ExactNNIndex::Metric::kCosine);
  size_t visits = 0;
  index.Search({}, 3, 10, [&](size_t i, std::span<const ExactNNIndex::Match> matches) {
    EXPECT_EQ(i, visits++);
    EXPECT_TRUE(matches.empty());
  });
  EXPECT_EQ(visits, 3u);
}

TEST(ExactNNIndexTest, CheckVectorNamesTheCallerAndTheId) {
  Status wrong_dim = ExactNNIndex::CheckVector(Vec({1, 2, 3}), 2, "query", "q1");
  EXPECT_THAT(wrong_dim.message(), HasSubstr("query 'q1' has an embedding of dimension 3"));
  Status nan = ExactNNIndex::CheckVector(Vec({1, NAN}), 0, "doc", "d");
  EXPECT_THAT(nan.message(), HasSubstr("doc 'd' has a NaN or infinite value"));
  EXPECT_TRUE(ExactNNIndex::CheckVector(Vec({1, 2}), 2, "doc", "d").ok());
}

TEST(ExactNNIndexTest, AssignRefusesADuplicateIdAndKeepsTheIndex) {
  ExactNNIndex index(ExactNNIndex::Metric::kL2);
  index.Upsert("x", Vec({1}));
  Status status = index.Assign(1, {"a", "a"}, {1, 2});
  EXPECT_THAT(status.message(), HasSubstr("id 'a' appears twice"));
  EXPECT_EQ(index.size(), 1u);
  ASSERT_TRUE(index.Assign(1, {"a", "b"}, {1, 2}).ok());
  EXPECT_EQ(index.RowOf("b"), 1u);
  EXPECT_EQ(index.RowOf("x"), std::nullopt);
}

}  // namespace
}  // namespace shoal::builtin
