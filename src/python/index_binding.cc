// `_shoal.ExactNNIndex`: the ExactNNIndexer's search core (executors/exact_nn_index.h) over ids
// and numpy vectors. shoal.docarray's InMemoryExactNNIndex keeps the documents beside it, one per
// row. Errors reach Python as ValueError naming the id or query and what was wrong.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
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

// Stores row i of `vectors` under ids[i] after checking every row; returns the row each id got.
py::array_t<int64_t> Upsert(ExactNNIndex& index, const std::vector<std::string>& ids,
                            const FloatArray& vectors) {
  std::span<const float> data = Rows(vectors, "vectors");
  if (static_cast<size_t>(vectors.shape(0)) != ids.size()) {
    throw py::value_error(absl::StrFormat("ExactNNIndex.upsert: %d ids but %d vectors", ids.size(),
                                          vectors.shape(0)));
  }
  const size_t dim = static_cast<size_t>(vectors.shape(1));
  const size_t checked_dim = index.dim() == 0 ? dim : index.dim();
  for (size_t i = 0; i < ids.size(); ++i) {
    ThrowIfError(ExactNNIndex::CheckVector(data.subspan(i * dim, dim), checked_dim,
                                           "InMemoryExactNNIndex.index: doc", ids[i]));
    if (dim == 0) {
      throw py::value_error(
          absl::StrFormat("InMemoryExactNNIndex.index: doc '%s' has an empty embedding", ids[i]));
    }
  }
  if (index.size() + ids.size() > ExactNNIndex::kMaxRows) {
    throw py::value_error(
        absl::StrFormat("ExactNNIndex: the index is limited to %d docs", ExactNNIndex::kMaxRows));
  }
  py::array_t<int64_t> rows(static_cast<py::ssize_t>(ids.size()));
  auto out = rows.mutable_unchecked<1>();
  for (size_t i = 0; i < ids.size(); ++i) {
    out(static_cast<py::ssize_t>(i)) = index.Upsert(ids[i], data.subspan(i * dim, dim));
  }
  return rows;
}

// The best `limit` rows of each query and their scores: two (n, k) arrays, k = min(limit, len).
py::tuple Search(const ExactNNIndex& index, const FloatArray& queries, int64_t limit) {
  if (limit < 0) {
    throw py::value_error(
        absl::StrFormat("ExactNNIndex.search: limit must be non-negative, got %d", limit));
  }
  std::span<const float> data = Rows(queries, "queries");
  const size_t n = static_cast<size_t>(queries.shape(0));
  const size_t dim = static_cast<size_t>(queries.shape(1));
  for (size_t i = 0; i < n && index.dim() != 0; ++i) {
    ThrowIfError(ExactNNIndex::CheckVector(data.subspan(i * dim, dim), index.dim(),
                                           "InMemoryExactNNIndex.find: query",
                                           absl::StrFormat("#%d", i)));
  }
  const size_t k = std::min(static_cast<size_t>(limit), index.size());
  py::array_t<int64_t> rows({n, k});
  py::array_t<double> scores({n, k});
  int64_t* row_out = rows.mutable_data();
  double* score_out = scores.mutable_data();
  {
    py::gil_scoped_release release;
    index.Search(data, n, k, [&](size_t i, std::span<const ExactNNIndex::Match> matches) {
      for (size_t j = 0; j < matches.size(); ++j) {
        row_out[i * k + j] = matches[j].row;
        score_out[i * k + j] = matches[j].score;
      }
    });
  }
  return py::make_tuple(std::move(rows), std::move(scores));
}

}  // namespace

void DefineIndex(py::module_& module) {
  py::class_<ExactNNIndex>(module, "ExactNNIndex",
                           "Exact nearest-neighbour search over ids and float32 vectors "
                           "(cosine similarity or L2 distance, scored with OpenBLAS).")
      .def(py::init([](const std::string& metric) { return ExactNNIndex(ParseMetric(metric)); }),
           py::arg("metric") = "cosine")
      .def("upsert", &Upsert, py::arg("ids"), py::arg("vectors"),
           "Stores row i of `vectors` (2-d) under ids[i], replacing an id's vector; every row is "
           "checked first. Returns the row of each id: new ids get len() at the time.")
      .def("search", &Search, py::arg("queries"), py::arg("limit"),
           "(rows, scores): two (n, k) arrays, each query's best k = min(limit, len()) rows, "
           "best first. Cosine scores are similarities, L2 scores distances.")
      .def(
          "remove", [](ExactNNIndex& index, const std::string& id) { return index.Remove(id); },
          py::arg("id"),
          "Removes `id`; returns the row it had, into which the last row moved, or None.")
      .def(
          "row_of",
          [](const ExactNNIndex& index, const std::string& id) { return index.RowOf(id); },
          py::arg("id"))
      .def("id",
           [](const ExactNNIndex& index, uint32_t row) {
             if (row >= index.size()) throw py::index_error("ExactNNIndex: row out of range");
             return index.id(row);
           })
      .def("__len__", &ExactNNIndex::size)
      .def_property_readonly("dim", &ExactNNIndex::dim)
      .def_property_readonly("metric", [](const ExactNNIndex& index) {
        return index.metric() == ExactNNIndex::Metric::kCosine ? "cosine" : "l2";
      });
}

}  // namespace shoal::python
