// `_shoal.ExactNNIndex`: the ExactNNIndexer's search core (executors/exact_nn_index.h) over ids
// and numpy vectors. shoal.docarray's InMemoryExactNNIndex keeps the documents beside it, one per
// row. Errors reach Python as ValueError naming the id or query and what was wrong. Searches run
// without the GIL; a lock keeps another Python thread from changing the index under one.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "executors/exact_nn_index.h"
#include "src/python/module.h"

namespace shoal::python {
namespace {

namespace py = pybind11;
using builtin::ExactNNIndex;
// Vectors arrive as C-ordered float32, converted from any real dtype numpy can cast.
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

ExactNNIndex::Metric ParseMetric(const std::string& name) {
  if (name == "cosine") return ExactNNIndex::Metric::kCosine;
  if (name == "l2") return ExactNNIndex::Metric::kL2;
  throw py::value_error(
      absl::StrFormat("ExactNNIndex: metric must be 'cosine' or 'l2', got '%s'", name));
}

// The rows of a 2-d array as a span of n * dim floats; ValueError naming `what` otherwise.
std::span<const float> Rows(const FloatArray& array, std::string_view what) {
  if (array.ndim() != 2) {
    throw py::value_error(absl::StrFormat(
        "ExactNNIndex: %s must be a 2-d array (one row per vector), got %d dimensions", what,
        array.ndim()));
  }
  return std::span<const float>(array.data(), static_cast<size_t>(array.size()));
}

void ThrowIfError(const Status& status) {
  if (!status.ok()) throw py::value_error(std::string(status.message()));
}

// The index bound as `_shoal.ExactNNIndex`. Thread-safe: writers hold the GIL and the writer
// lock; a search holds the reader lock only, so other Python threads run meanwhile.
class LockedIndex {
 public:
  explicit LockedIndex(ExactNNIndex::Metric metric) : index_(metric) {}

  py::array_t<int64_t> Upsert(const std::vector<std::string>& ids, const FloatArray& vectors);
  py::tuple Search(const FloatArray& queries, int64_t limit) const;
  std::optional<uint32_t> Remove(const std::string& id) {
    absl::WriterMutexLock lock(&mu_);
    return index_.Remove(id);
  }
  std::optional<uint32_t> RowOf(const std::string& id) const {
    absl::ReaderMutexLock lock(&mu_);
    return index_.RowOf(id);
  }
  std::string Id(uint32_t row) const {
    absl::ReaderMutexLock lock(&mu_);
    if (row >= index_.size()) throw py::index_error("ExactNNIndex: row out of range");
    return index_.id(row);
  }
  size_t size() const {
    absl::ReaderMutexLock lock(&mu_);
    return index_.size();
  }
  size_t dim() const {
    absl::ReaderMutexLock lock(&mu_);
    return index_.dim();
  }
  const char* metric() const {
    absl::ReaderMutexLock lock(&mu_);
    return index_.metric() == ExactNNIndex::Metric::kCosine ? "cosine" : "l2";
  }

 private:
  mutable absl::Mutex mu_;
  ExactNNIndex index_ ABSL_GUARDED_BY(mu_);
};

// Stores row i of `vectors` under ids[i] after checking every row; returns the row each id got.
py::array_t<int64_t> LockedIndex::Upsert(const std::vector<std::string>& ids,
                                         const FloatArray& vectors) {
  std::span<const float> data = Rows(vectors, "vectors");
  if (static_cast<size_t>(vectors.shape(0)) != ids.size()) {
    throw py::value_error(absl::StrFormat("ExactNNIndex.upsert: %d ids but %d vectors", ids.size(),
                                          vectors.shape(0)));
  }
  const size_t dim = static_cast<size_t>(vectors.shape(1));
  absl::WriterMutexLock lock(&mu_);
  const size_t checked_dim = index_.dim() == 0 ? dim : index_.dim();
  for (size_t i = 0; i < ids.size(); ++i) {
    ThrowIfError(ExactNNIndex::CheckVector(data.subspan(i * dim, dim), checked_dim,
                                           "InMemoryExactNNIndex.index: doc", ids[i]));
    if (dim == 0) {
      throw py::value_error(
          absl::StrFormat("InMemoryExactNNIndex.index: doc '%s' has an empty embedding", ids[i]));
    }
  }
  if (index_.size() + ids.size() > ExactNNIndex::kMaxRows) {
    throw py::value_error(
        absl::StrFormat("ExactNNIndex: the index is limited to %d docs", ExactNNIndex::kMaxRows));
  }
  py::array_t<int64_t> rows(static_cast<py::ssize_t>(ids.size()));
  auto out = rows.mutable_unchecked<1>();
  for (size_t i = 0; i < ids.size(); ++i) {
    out(static_cast<py::ssize_t>(i)) = index_.Upsert(ids[i], data.subspan(i * dim, dim));
  }
  return rows;
}

// The best `limit` rows of each query and their scores: two (n, k) arrays, k = min(limit, len).
py::tuple LockedIndex::Search(const FloatArray& queries, int64_t limit) const {
  if (limit < 0) {
    throw py::value_error(
        absl::StrFormat("ExactNNIndex.search: limit must be non-negative, got %d", limit));
  }
  std::span<const float> data = Rows(queries, "queries");
  const size_t n = static_cast<size_t>(queries.shape(0));
  const size_t dim = static_cast<size_t>(queries.shape(1));
  size_t k = 0;
  std::vector<int64_t> rows;
  std::vector<double> scores;
  Status status;
  {
    // Without the GIL, and never taking it while holding the lock: writers hold the GIL while
    // they wait for the lock.
    py::gil_scoped_release release;
    absl::ReaderMutexLock lock(&mu_);
    for (size_t i = 0; i < n && index_.dim() != 0 && status.ok(); ++i) {
      status =
          ExactNNIndex::CheckVector(data.subspan(i * dim, dim), index_.dim(),
                                    "InMemoryExactNNIndex.find: query", absl::StrFormat("#%d", i));
    }
    if (status.ok()) {
      k = std::min(static_cast<size_t>(limit), index_.size());
      rows.resize(n * k);
      scores.resize(n * k);
      index_.Search(data, n, k, [&](size_t i, std::span<const ExactNNIndex::Match> matches) {
        for (size_t j = 0; j < matches.size(); ++j) {
          rows[i * k + j] = matches[j].row;
          scores[i * k + j] = matches[j].score;
        }
      });
    }
  }
  ThrowIfError(status);
  py::array_t<int64_t> row_array({n, k});
  py::array_t<double> score_array({n, k});
  std::copy(rows.begin(), rows.end(), row_array.mutable_data());
  std::copy(scores.begin(), scores.end(), score_array.mutable_data());
  return py::make_tuple(std::move(row_array), std::move(score_array));
}

}  // namespace

void DefineIndex(py::module_& module) {
  py::class_<LockedIndex>(module, "ExactNNIndex",
                          "Exact nearest-neighbour search over ids and float32 vectors "
                          "(cosine similarity or L2 distance, scored with OpenBLAS).")
      .def(py::init([](const std::string& metric) {
             return std::make_unique<LockedIndex>(ParseMetric(metric));
           }),
           py::arg("metric") = "cosine")
      .def("upsert", &LockedIndex::Upsert, py::arg("ids"), py::arg("vectors"),
           "Stores row i of `vectors` (2-d) under ids[i], replacing an id's vector; every row is "
           "checked first. Returns the row of each id: new ids get len() at the time.")
      .def("search", &LockedIndex::Search, py::arg("queries"), py::arg("limit"),
           "(rows, scores): two (n, k) arrays, each query's best k = min(limit, len()) rows, "
           "best first. Cosine scores are similarities, L2 scores distances.")
      .def("remove", &LockedIndex::Remove, py::arg("id"),
           "Removes `id`; returns the row it had, into which the last row moved, or None.")
      .def("row_of", &LockedIndex::RowOf, py::arg("id"))
      .def("id", &LockedIndex::Id, py::arg("row"))
      .def("__len__", &LockedIndex::size)
      .def_property_readonly("dim", &LockedIndex::dim)
      .def_property_readonly("metric", &LockedIndex::metric);
}

}  // namespace shoal::python
