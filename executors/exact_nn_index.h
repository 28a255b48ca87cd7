// Exact nearest-neighbour search over stored vectors, by cosine similarity or L2 distance, scored
// with OpenBLAS. The core of the ExactNNIndexer built-in Executor and of the Python package's
// InMemoryExactNNIndex: it keeps ids and vectors only; callers keep whatever else a row carries
// (texts, whole documents) in arrays indexed by row.
#ifndef SHOAL_EXECUTORS_EXACT_NN_INDEX_H_
#define SHOAL_EXECUTORS_EXACT_NN_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "shoal/status.h"

namespace shoal::builtin {

// Rows are numbered 0..size()-1 in the order ids were first stored (Remove moves the last row into
// the removed one's place). A vector with a NaN or infinite value, or whose norm float dot
// products cannot hold (a non-zero norm outside about 2.2e-19 to 9.2e18), is invalid: callers
// check vectors with CheckVector before storing or searching them. Thread-compatible.
class ExactNNIndex {
 public:
  enum class Metric { kCosine, kL2 };
  // One search hit: cosine scores are similarities (higher is better), L2 scores are distances
  // (lower is better), computed exactly in double precision.
  struct Match {
    double score;
    uint32_t row;
  };
  // BLAS takes dimensions as int and rows are numbered with uint32_t.
  static constexpr size_t kMaxRows = std::numeric_limits<int>::max();
  static constexpr size_t kMaxDim = std::numeric_limits<int>::max() / sizeof(float);

  explicit ExactNNIndex(Metric metric) : metric_(metric) {}

  // OK when `v` has dimension `dim` (any when `dim` is 0), finite values and a scorable norm;
  // otherwise InvalidArgument naming `who` and `id` ("<who> '<id>' has ...").
  static Status CheckVector(std::span<const float> v, size_t dim, std::string_view who,
                            std::string_view id);

  // Stores `vector` under `id`, replacing the vector `id` has; returns its row. The first vector
  // sets dim(). Requires a vector that passed CheckVector(vector, dim(), ...) and, for a new id,
  // size() < kMaxRows.
  uint32_t Upsert(std::string_view id, std::span<const float> vector);
  // Removes `id` and returns the row it had, into which the last row moved (unless it was the
  // last); nullopt when `id` is not stored.
  std::optional<uint32_t> Remove(std::string_view id);
  // Replaces the whole index: `vectors` holds ids.size() rows of `dim` floats. InvalidArgument
  // when an id appears twice (the index is then unchanged).
  Status Assign(size_t dim, std::vector<std::string> ids, std::vector<float> vectors);

  // Scores `n` queries (row-major, dim() floats each, checked by the caller; none are read when
  // the index is empty) against every row and calls `visit(i, matches)` for each query i in order
  // with its best `limit` rows, best first (ties by row). `matches` is valid during the call only.
  void Search(std::span<const float> queries, size_t n, size_t limit,
              absl::FunctionRef<void(size_t, std::span<const Match>)> visit) const;

  Metric metric() const { return metric_; }
  size_t size() const { return ids_.size(); }
  // 0 until the first vector is stored.
  size_t dim() const { return dim_; }
  std::optional<uint32_t> RowOf(std::string_view id) const;
  const std::string& id(uint32_t row) const { return ids_[row]; }
  std::span<const float> vector(uint32_t row) const {
    return std::span<const float>(vectors_).subspan(size_t{row} * dim_, dim_);
  }
  const std::vector<std::string>& ids() const { return ids_; }
  // size() rows of dim() floats, row-major.
  std::span<const float> vectors() const { return vectors_; }

 private:
  struct Hit {
    float key;  // ranking key: higher is better
    uint32_t row;
  };

  // Writes into `dots` the dot products of `n` row-major queries with every stored row.
  void DotProducts(const float* queries, size_t n, float* dots) const;
  // The best `k` rows for one query, in no order, from its dot products.
  void TopK(std::span<const float> query, const float* dots, size_t k,
            std::vector<Hit>& hits) const;
  double ExactScore(std::span<const float> query, uint32_t row) const;
  // `hits` rescored exactly and sorted best first into `ranked`.
  void Rank(std::span<const float> query, const std::vector<Hit>& hits,
            std::vector<Match>& ranked) const;

  const Metric metric_;

  size_t dim_ = 0;
  std::vector<std::string> ids_;
  std::vector<float> vectors_;                       // size() rows of dim_ floats, row-major
  std::vector<float> norms_;                         // L2 norm of each row
  absl::flat_hash_map<std::string, uint32_t> rows_;  // id -> row
};

}  // namespace shoal::builtin

#endif  // SHOAL_EXECUTORS_EXACT_NN_INDEX_H_
