// ExactNNIndex (DESIGN.md §5): a row-major matrix of vectors scored against queries with one
// OpenBLAS call per block of queries (sgemv for one query, sgemm for several), top-k selection
// with nth_element, and exact rescoring of the k winners in double precision.
#include "executors/exact_nn_index.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace shoal::builtin {
namespace {

// Bounds the dot-product buffer of one sgemm call (floats), so that a large batch against a large
// index is scored in blocks of queries.
constexpr size_t kMaxDotsPerBlock = size_t{1} << 22;

// The norms a stored or query vector may have (besides 0): beyond kMaxNorm a dot product or a
// squared norm (up to kMaxNorm^2 = FLT_MAX / 4, with room for the L2 key 2q.x - |x|^2) would
// overflow float, the type BLAS scores in; below kMinNorm they lose every digit to underflow.
const double kMaxNorm = std::sqrt(double{std::numeric_limits<float>::max()}) / 2;
const double kMinNorm = 2 * std::sqrt(double{std::numeric_limits<float>::min()});

float Norm(std::span<const float> v) {
  return v.empty() ? 0.0f : cblas_snrm2(static_cast<int>(v.size()), v.data(), 1);
}

}  // namespace

Status ExactNNIndex::CheckVector(std::span<const float> v, size_t dim, std::string_view who,
                                 std::string_view id) {
  if (dim != 0 && v.size() != dim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s '%s' has an embedding of dimension %d but the index has dimension %d",
                        who, id, v.size(), dim));
  }
  if (v.size() > kMaxDim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s '%s' has an embedding of dimension %d, more than the supported %d", who,
                        id, v.size(), kMaxDim));
  }
  double squared_norm = 0;  // in double: a float embedding's cannot overflow it
  for (float x : v) {
    if (!std::isfinite(x)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s '%s' has a NaN or infinite value in its embedding", who, id));
    }
    squared_norm += double{x} * x;
  }
  const double norm = std::sqrt(squared_norm);
  if (norm != 0 && (norm > kMaxNorm || norm < kMinNorm)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s '%s': field 'embedding' has norm %.2g, which float dot products cannot score (a "
        "non-zero norm must be between %.2g and %.2g)",
        who, id, norm, kMinNorm, kMaxNorm));
  }
  return absl::OkStatus();
}

uint32_t ExactNNIndex::Upsert(std::string_view id, std::span<const float> vector) {
  if (dim_ == 0) dim_ = vector.size();
  auto [it, inserted] = rows_.try_emplace(std::string(id), static_cast<uint32_t>(ids_.size()));
  const uint32_t row = it->second;
  if (!inserted) {
    std::copy(vector.begin(), vector.end(), vectors_.begin() + size_t{row} * dim_);
    norms_[row] = Norm(vector);
    return row;
  }
  if (vectors_.size() + dim_ > vectors_.capacity()) {
    vectors_.reserve(std::max(vectors_.size() + dim_, 2 * vectors_.capacity()));
  }
  vectors_.insert(vectors_.end(), vector.begin(), vector.end());
  ids_.emplace_back(id);
  norms_.push_back(Norm(vector));
  return row;
}

std::optional<uint32_t> ExactNNIndex::Remove(std::string_view id) {
  auto it = rows_.find(absl::string_view(id.data(), id.size()));
  if (it == rows_.end()) return std::nullopt;
  const uint32_t row = it->second;
  rows_.erase(it);
  const uint32_t last = static_cast<uint32_t>(ids_.size() - 1);
  if (row != last) {
    std::copy_n(vectors_.begin() + size_t{last} * dim_, dim_,
                vectors_.begin() + size_t{row} * dim_);
    norms_[row] = norms_[last];
    ids_[row] = std::move(ids_[last]);
    rows_[ids_[row]] = row;
  }
  ids_.pop_back();
  norms_.pop_back();
  vectors_.resize(vectors_.size() - dim_);
  if (ids_.empty()) dim_ = 0;
  return row;
}

Status ExactNNIndex::Assign(size_t dim, std::vector<std::string> ids, std::vector<float> vectors) {
  absl::flat_hash_map<std::string, uint32_t> rows;
  std::vector<float> norms(ids.size());
  for (size_t r = 0; r < ids.size(); ++r) {
    if (!rows.try_emplace(ids[r], static_cast<uint32_t>(r)).second) {
      return absl::InvalidArgumentError(absl::StrFormat("id '%s' appears twice", ids[r]));
    }
    norms[r] = Norm(std::span<const float>(vectors).subspan(r * dim, dim));
  }
  dim_ = dim;
  ids_ = std::move(ids);
  vectors_ = std::move(vectors);
  norms_ = std::move(norms);
  rows_ = std::move(rows);
  return absl::OkStatus();
}

std::optional<uint32_t> ExactNNIndex::RowOf(std::string_view id) const {
  auto it = rows_.find(absl::string_view(id.data(), id.size()));
  if (it == rows_.end()) return std::nullopt;
  return it->second;
}

void ExactNNIndex::Search(std::span<const float> queries, size_t n, size_t limit,
                          absl::FunctionRef<void(size_t, std::span<const Match>)> visit) const {
  const size_t k = std::min(limit, size());
  if (k == 0) {
    for (size_t i = 0; i < n; ++i) visit(i, {});
    return;
  }
  std::vector<Hit> hits;
  std::vector<Match> ranked;
  const size_t block = std::max<size_t>(1, kMaxDotsPerBlock / size());
  std::vector<float> dots(std::min(block, n) * size());
  for (size_t start = 0; start < n; start += block) {
    const size_t count = std::min(block, n - start);
    DotProducts(queries.data() + start * dim_, count, dots.data());
    for (size_t j = 0; j < count; ++j) {
      std::span<const float> query = queries.subspan((start + j) * dim_, dim_);
      TopK(query, dots.data() + j * size(), k, hits);
      Rank(query, hits, ranked);
      visit(start + j, ranked);
    }
  }
}

void ExactNNIndex::DotProducts(const float* queries, size_t n, float* dots) const {
  const int rows = static_cast<int>(size());
  const int dim = static_cast<int>(dim_);
  if (n == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, dim, 1.0f, vectors_.data(), dim, queries, 1,
                0.0f, dots, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), rows, dim, 1.0f,
                queries, dim, vectors_.data(), dim, 0.0f, dots, rows);
  }
}

void ExactNNIndex::TopK(std::span<const float> query, const float* dots, size_t k,
                        std::vector<Hit>& hits) const {
  const size_t rows = size();
  const float query_norm = Norm(query);
  hits.resize(rows);
  for (size_t r = 0; r < rows; ++r) {
    float key;
    if (metric_ == Metric::kCosine) {
      const float denominator = query_norm * norms_[r];
      key = denominator > 0 ? dots[r] / denominator : 0.0f;
    } else {
      // |q - x|^2 = |q|^2 + |x|^2 - 2 q.x; |q|^2 is the same for every row.
      key = 2.0f * dots[r] - norms_[r] * norms_[r];
    }
    hits[r] = {key, static_cast<uint32_t>(r)};
  }
  if (k < rows) {
    std::nth_element(hits.begin(), hits.begin() + k, hits.end(), [](const Hit& a, const Hit& b) {
      return a.key > b.key || (a.key == b.key && a.row < b.row);
    });
    hits.resize(k);
  }
}

double ExactNNIndex::ExactScore(std::span<const float> query, uint32_t row) const {
  const float* x = vectors_.data() + size_t{row} * dim_;
  double dot = 0, query_sq = 0, row_sq = 0, distance_sq = 0;
  for (size_t i = 0; i < dim_; ++i) {
    const double q = query[i];
    const double v = x[i];
    dot += q * v;
    query_sq += q * q;
    row_sq += v * v;
    distance_sq += (q - v) * (q - v);
  }
  if (metric_ == Metric::kL2) return std::sqrt(distance_sq);
  return query_sq > 0 && row_sq > 0 ? dot / std::sqrt(query_sq * row_sq) : 0.0;
}

void ExactNNIndex::Rank(std::span<const float> query, const std::vector<Hit>& hits,
                        std::vector<Match>& ranked) const {
  ranked.clear();
  for (const Hit& hit : hits) ranked.push_back({ExactScore(query, hit.row), hit.row});
  const bool lower_is_better = metric_ == Metric::kL2;
  std::sort(ranked.begin(), ranked.end(), [lower_is_better](const Match& a, const Match& b) {
    if (a.score != b.score) return lower_is_better ? a.score < b.score : a.score > b.score;
    return a.row < b.row;
  });
}

}  // namespace shoal::builtin
