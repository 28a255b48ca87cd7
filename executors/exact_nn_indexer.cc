// The ExactNNIndexer built-in Executor (DESIGN.md §5): a row-major matrix of embeddings scored
// against queries with one OpenBLAS call per batch (sgemv for one query, sgemm for several), top-k
// selection with nth_element, and exact rescoring of the k winners in double precision.
#include "executors/exact_nn_indexer.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "executors/counter.h"
#include "src/common/snapshot_file.h"

namespace shoal::builtin {
namespace {

constexpr std::string_view kMagic = "SHOALENN";
constexpr uint32_t kVersion = 1;
constexpr int64_t kDefaultLimit = 10;
constexpr int64_t kMaxBlasThreads = 1024;
// BLAS takes dimensions as int and rows are numbered with uint32_t.
constexpr size_t kMaxRows = std::numeric_limits<int>::max();
constexpr size_t kMaxDim = std::numeric_limits<int>::max() / sizeof(float);
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

// The embedding of `doc` (`who` names it in errors): a view of a "<f4" ndarray, or the values of
// a "<f8" one converted into `scratch`.
StatusOr<std::span<const float>> EmbeddingOf(const Doc& doc, std::string_view who,
                                             std::vector<float>& scratch) {
  std::span<const float> floats = doc.embedding();
  if (!floats.empty()) return floats;
  std::optional<NdArrayView> array = doc.GetNdArray("embedding");
  if (!array.has_value()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s '%s' has no embedding", who, doc.id()));
  }
  size_t n = array->num_elements();
  std::string_view bytes = array->bytes();
  if (n > 0 && array->dtype() == "<f8" && bytes.size() == n * sizeof(double)) {
    scratch.resize(n);
    for (size_t i = 0; i < n; ++i) {
      double value;
      std::memcpy(&value, bytes.data() + i * sizeof(double), sizeof(double));
      scratch[i] = static_cast<float>(value);
    }
    return std::span<const float>(scratch);
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s '%s' has an embedding of dtype '%s' with %d elements and %d bytes; want "
                      "a non-empty '<f4' array",
                      who, doc.id(), array->dtype(), n, bytes.size()));
}

// Checks `v` against the index dimension `dim` (0 when the index is empty) and for NaN/inf.
Status CheckVector(const Doc& doc, std::string_view who, std::span<const float> v, size_t dim) {
  if (dim != 0 && v.size() != dim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s '%s' has an embedding of dimension %d but the index has dimension %d",
                        who, doc.id(), v.size(), dim));
  }
  if (v.size() > kMaxDim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s '%s' has an embedding of dimension %d, more than the supported %d", who,
                        doc.id(), v.size(), kMaxDim));
  }
  double squared_norm = 0;  // in double: a float embedding's cannot overflow it
  for (float x : v) {
    if (!std::isfinite(x)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s '%s' has a NaN or infinite value in its embedding", who, doc.id()));
    }
    squared_norm += double{x} * x;
  }
  const double norm = std::sqrt(squared_norm);
  if (norm != 0 && (norm > kMaxNorm || norm < kMinNorm)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s '%s': field 'embedding' has norm %.2g, which float dot products cannot score (a "
        "non-zero norm must be between %.2g and %.2g)",
        who, doc.id(), norm, kMinNorm, kMaxNorm));
  }
  return absl::OkStatus();
}

StatusOr<size_t> ReadLimit(const Params& params) {
  if (!params.Has("limit")) return static_cast<size_t>(kDefaultLimit);
  std::optional<int64_t> limit = params.GetInt("limit");
  if (!limit.has_value() || *limit < 0) {
    return absl::InvalidArgumentError(
        "ExactNNIndexer /search: parameters.limit must be a non-negative integer");
  }
  return static_cast<size_t>(*limit);
}

StatusOr<ExactNNIndexer::Metric> ReadMetric(const Config& with) {
  if (!with.Has("metric")) return ExactNNIndexer::Metric::kCosine;
  std::optional<std::string> name = with.GetString("metric");
  std::string lower = absl::AsciiStrToLower(name.value_or(""));
  if (lower == "cosine") return ExactNNIndexer::Metric::kCosine;
  if (lower == "l2") return ExactNNIndexer::Metric::kL2;
  return absl::InvalidArgumentError(
      absl::StrFormat("ExactNNIndexer: uses_with.metric must be \"cosine\" or \"l2\", got %s",
                      name.has_value() ? "\"" + *name + "\"" : "a non-string value"));
}

}  // namespace

StatusOr<std::unique_ptr<ExactNNIndexer>> ExactNNIndexer::Create(const Config& with) {
  SHOAL_ASSIGN_OR_RETURN(Metric metric, ReadMetric(with));
  int64_t threads = 1;
  if (with.Has("blas_threads")) {
    std::optional<int64_t> value = with.GetInt("blas_threads");
    if (!value.has_value() || *value < 1 || *value > kMaxBlasThreads) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ExactNNIndexer: uses_with.blas_threads must be an integer from 1 to %d",
                          kMaxBlasThreads));
    }
    threads = *value;
  }
  openblas_set_num_threads(static_cast<int>(threads));
  return std::make_unique<ExactNNIndexer>(metric);
}

Status ExactNNIndexer::Index(DocList& docs, const Params& params) {
  // Every doc is checked before any is stored, so a bad request changes nothing.
  size_t dim = dim_;
  std::vector<float> staged;
  std::vector<float> scratch;
  for (Doc doc : docs) {
    SHOAL_ASSIGN_OR_RETURN(std::span<const float> v,
                           EmbeddingOf(doc, "ExactNNIndexer /index: doc", scratch));
    if (dim == 0) dim = v.size();
    SHOAL_RETURN_IF_ERROR(CheckVector(doc, "ExactNNIndexer /index: doc", v, dim));
    staged.insert(staged.end(), v.begin(), v.end());
  }
  if (size() + docs.size() > kMaxRows) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("ExactNNIndexer /index: the index is limited to %d docs", kMaxRows));
  }
  dim_ = dim;
  for (size_t i = 0; i < docs.size(); ++i) {
    Doc doc = docs[i];
    Upsert(doc.id(), doc.text(), std::span<const float>(staged).subspan(i * dim, dim));
  }
  return absl::OkStatus();
}

void ExactNNIndexer::Upsert(std::string_view id, std::string_view text,
                            std::span<const float> vector) {
  auto [it, inserted] = rows_.try_emplace(std::string(id), static_cast<uint32_t>(ids_.size()));
  size_t row = it->second;
  if (!inserted) {
    std::copy(vector.begin(), vector.end(), vectors_.begin() + row * dim_);
    texts_[row] = std::string(text);
    norms_[row] = Norm(vector);
    return;
  }
  if (vectors_.size() + dim_ > vectors_.capacity()) {
    vectors_.reserve(std::max(vectors_.size() + dim_, 2 * vectors_.capacity()));
  }
  vectors_.insert(vectors_.end(), vector.begin(), vector.end());
  ids_.emplace_back(id);
  texts_.emplace_back(text);
  norms_.push_back(Norm(vector));
}

Status ExactNNIndexer::Search(DocList& docs, const Params& params) {
  SHOAL_ASSIGN_OR_RETURN(size_t limit, ReadLimit(params));
  std::vector<float> queries;
  queries.reserve(docs.size() * dim_);
  std::vector<float> scratch;
  for (Doc doc : docs) {
    SHOAL_ASSIGN_OR_RETURN(std::span<const float> v,
                           EmbeddingOf(doc, "ExactNNIndexer /search: query", scratch));
    SHOAL_RETURN_IF_ERROR(CheckVector(doc, "ExactNNIndexer /search: query", v, dim_));
    if (dim_ != 0) queries.insert(queries.end(), v.begin(), v.end());
  }
  const size_t k = std::min(limit, size());
  std::vector<Hit> hits;
  if (k == 0) {
    for (Doc doc : docs) FillMatches(doc, {}, hits);
    return absl::OkStatus();
  }
  const size_t n = docs.size();
  const size_t block = std::max<size_t>(1, kMaxDotsPerBlock / size());
  std::vector<float> dots(std::min(block, n) * size());
  for (size_t start = 0; start < n; start += block) {
    const size_t count = std::min(block, n - start);
    DotProducts(queries.data() + start * dim_, count, dots.data());
    for (size_t j = 0; j < count; ++j) {
      std::span<const float> query(queries.data() + (start + j) * dim_, dim_);
      TopK(query, dots.data() + j * size(), k, hits);
      FillMatches(docs[start + j], query, hits);
    }
  }
  return absl::OkStatus();
}

void ExactNNIndexer::DotProducts(const float* queries, size_t n, float* dots) const {
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

void ExactNNIndexer::TopK(std::span<const float> query, const float* dots, size_t k,
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

double ExactNNIndexer::ExactScore(std::span<const float> query, uint32_t row) const {
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

void ExactNNIndexer::FillMatches(Doc query, std::span<const float> vector,
                                 const std::vector<Hit>& hits) const {
  std::vector<std::pair<double, uint32_t>> ranked;
  ranked.reserve(hits.size());
  for (const Hit& hit : hits) ranked.emplace_back(ExactScore(vector, hit.row), hit.row);
  const bool lower_is_better = metric_ == Metric::kL2;
  std::sort(ranked.begin(), ranked.end(), [lower_is_better](const auto& a, const auto& b) {
    if (a.first != b.first) return lower_is_better ? a.first < b.first : a.first > b.first;
    return a.second < b.second;
  });
  DocList matches = query.matches();
  matches.Clear();
  std::vector<double> scores;
  scores.reserve(ranked.size());
  for (const auto& [score, row] : ranked) {
    Doc match = matches.Add();
    match.set_id(ids_[row]);
    if (!texts_[row].empty()) match.set_text(texts_[row]);
    match.SetDouble("score", score);
    scores.push_back(score);
  }
  query.set_scores(scores);
}

Status ExactNNIndexer::Count(DocList& docs, const Params& params) {
  ReplaceWithCount(docs, size(), runtime_name());
  docs[0].SetText("checksum", absl::StrFormat("%016x", Checksum()));
  return absl::OkStatus();
}

uint64_t ExactNNIndexer::Checksum() const {
  uint64_t hash = kFnvOffset;
  for (size_t row = 0; row < ids_.size(); ++row) {
    // Lengths first, so that ("ab", "c") and ("a", "bc") differ.
    const uint64_t sizes[2] = {ids_[row].size(), texts_[row].size()};
    hash = Fnv1a(hash, sizes, sizeof(sizes));
    hash = Fnv1a(hash, ids_[row].data(), ids_[row].size());
    hash = Fnv1a(hash, texts_[row].data(), texts_[row].size());
  }
  return Fnv1a(hash, vectors_.data(), vectors_.size() * sizeof(float));
}

Status ExactNNIndexer::Snapshot(const std::filesystem::path& file) const {
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotWriter> writer,
                         SnapshotWriter::Create(file, kMagic, kVersion));
  writer->WriteU32(static_cast<uint32_t>(dim_));
  writer->WriteU64(size());
  for (const std::string& id : ids_) writer->WriteString(id);
  for (const std::string& text : texts_) writer->WriteString(text);
  writer->Write(vectors_.data(), vectors_.size() * sizeof(float));
  return writer->Commit();
}

Status ExactNNIndexer::Restore(const std::filesystem::path& file) {
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotReader> reader,
                         SnapshotReader::Open(file, kMagic, kVersion));
  uint32_t dim = 0;
  uint64_t count = 0;
  SHOAL_RETURN_IF_ERROR(reader->ReadU32(&dim, "dimension"));
  SHOAL_RETURN_IF_ERROR(reader->ReadU64(&count, "count"));
  // Each doc takes two length prefixes and dim floats; checked before allocating for them.
  const uint64_t per_doc = 2 * sizeof(uint64_t) + uint64_t{dim} * sizeof(float);
  if (count > kMaxRows || dim > kMaxDim || (count > 0 && dim == 0) ||
      (count > 0 && per_doc > reader->remaining() / count)) {
    return reader->Corrupt(
        absl::StrFormat("count %d and dimension %d do not fit the file's %d payload bytes", count,
                        dim, reader->remaining()));
  }
  std::vector<std::string> ids(count);
  std::vector<std::string> texts(count);
  std::vector<float> vectors(count * dim);
  for (std::string& id : ids) SHOAL_RETURN_IF_ERROR(reader->ReadString(&id, "ids"));
  for (std::string& text : texts) SHOAL_RETURN_IF_ERROR(reader->ReadString(&text, "texts"));
  SHOAL_RETURN_IF_ERROR(reader->Read(vectors.data(), vectors.size() * sizeof(float), "vectors"));
  SHOAL_RETURN_IF_ERROR(reader->Finish());

  absl::flat_hash_map<std::string, uint32_t> rows;
  std::vector<float> norms(count);
  for (size_t r = 0; r < count; ++r) {
    if (!rows.try_emplace(ids[r], static_cast<uint32_t>(r)).second) {
      return reader->Corrupt(absl::StrFormat("id '%s' appears twice", ids[r]));
    }
    norms[r] = Norm(std::span<const float>(vectors).subspan(r * dim, dim));
  }
  dim_ = dim;
  ids_ = std::move(ids);
  texts_ = std::move(texts);
  vectors_ = std::move(vectors);
  norms_ = std::move(norms);
  rows_ = std::move(rows);
  return absl::OkStatus();
}

SHOAL_EXECUTOR(ExactNNIndexer);

}  // namespace shoal::builtin
