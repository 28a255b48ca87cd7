// The ExactNNIndexer built-in Executor (DESIGN.md §5): documents in and out of an ExactNNIndex,
// which scores them with OpenBLAS, and the index's snapshot file.
#include "executors/exact_nn_indexer.h"

#include <cblas.h>

#include <cstring>
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
constexpr size_t kMaxRows = ExactNNIndex::kMaxRows;
constexpr size_t kMaxDim = ExactNNIndex::kMaxDim;

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
  return ExactNNIndex::CheckVector(v, dim, who, doc.id());
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
  size_t dim = index_.dim();
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
  for (size_t i = 0; i < docs.size(); ++i) {
    Doc doc = docs[i];
    const uint32_t row =
        index_.Upsert(doc.id(), std::span<const float>(staged).subspan(i * dim, dim));
    if (row == texts_.size()) {
      texts_.emplace_back(doc.text());
    } else {
      texts_[row] = std::string(doc.text());
    }
  }
  return absl::OkStatus();
}

Status ExactNNIndexer::Search(DocList& docs, const Params& params) {
  SHOAL_ASSIGN_OR_RETURN(size_t limit, ReadLimit(params));
  const size_t dim = index_.dim();
  std::vector<float> queries;
  queries.reserve(docs.size() * dim);
  std::vector<float> scratch;
  for (Doc doc : docs) {
    SHOAL_ASSIGN_OR_RETURN(std::span<const float> v,
                           EmbeddingOf(doc, "ExactNNIndexer /search: query", scratch));
    SHOAL_RETURN_IF_ERROR(CheckVector(doc, "ExactNNIndexer /search: query", v, dim));
    if (dim != 0) queries.insert(queries.end(), v.begin(), v.end());
  }
  index_.Search(queries, docs.size(), limit,
                [&](size_t i, std::span<const ExactNNIndex::Match> matches) {
                  FillMatches(docs[i], matches);
                });
  return absl::OkStatus();
}

void ExactNNIndexer::FillMatches(Doc query, std::span<const ExactNNIndex::Match> matches) const {
  DocList list = query.matches();
  list.Clear();
  std::vector<double> scores;
  scores.reserve(matches.size());
  for (const ExactNNIndex::Match& m : matches) {
    Doc match = list.Add();
    match.set_id(index_.id(m.row));
    if (!texts_[m.row].empty()) match.set_text(texts_[m.row]);
    match.SetDouble("score", m.score);
    scores.push_back(m.score);
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
  const std::vector<std::string>& ids = index_.ids();
  for (size_t row = 0; row < ids.size(); ++row) {
    // Lengths first, so that ("ab", "c") and ("a", "bc") differ.
    const uint64_t sizes[2] = {ids[row].size(), texts_[row].size()};
    hash = Fnv1a(hash, sizes, sizeof(sizes));
    hash = Fnv1a(hash, ids[row].data(), ids[row].size());
    hash = Fnv1a(hash, texts_[row].data(), texts_[row].size());
  }
  std::span<const float> vectors = index_.vectors();
  return Fnv1a(hash, vectors.data(), vectors.size() * sizeof(float));
}

Status ExactNNIndexer::Snapshot(const std::filesystem::path& file) const {
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotWriter> writer,
                         SnapshotWriter::Create(file, kMagic, kVersion));
  writer->WriteU32(static_cast<uint32_t>(dim()));
  writer->WriteU64(size());
  for (const std::string& id : index_.ids()) writer->WriteString(id);
  for (const std::string& text : texts_) writer->WriteString(text);
  std::span<const float> vectors = index_.vectors();
  writer->Write(vectors.data(), vectors.size() * sizeof(float));
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

  Status assigned = index_.Assign(dim, std::move(ids), std::move(vectors));
  if (!assigned.ok()) return reader->Corrupt(std::string(assigned.message()));
  texts_ = std::move(texts);
  return absl::OkStatus();
}

SHOAL_EXECUTOR(ExactNNIndexer);

}  // namespace shoal::builtin
