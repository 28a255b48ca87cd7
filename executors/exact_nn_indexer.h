// The ExactNNIndexer built-in Executor: exact nearest-neighbour search over the embeddings it has
// indexed, by cosine similarity or L2 distance, scored with OpenBLAS. It is the seed's example of
// a stateful Executor and snapshots its whole index to one file.
#ifndef SHOAL_EXECUTORS_EXACT_NN_INDEXER_H_
#define SHOAL_EXECUTORS_EXACT_NN_INDEXER_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "executors/exact_nn_index.h"
#include "shoal/executor.h"

namespace shoal::builtin {

// Endpoints:
//   /index (write)  stores each doc's id, text and `embedding`; an id already stored is replaced.
//                   A doc without an embedding or of another dimension than the index fails the
//                   whole request (InvalidArgument) and stores nothing.
//   /search         sets each query's `matches` (docs with id, text and a double field `score`)
//                   and `scores` to its best `parameters.limit` (default 10) hits, best first.
//                   Cosine scores are similarities (higher is better), L2 scores are distances
//                   (lower is better).
//   /count          one doc whose text is the number of stored docs, with `served_by` and
//                   `checksum` (Checksum() in hex: replicas that agree have equal checksums).
// uses_with: `metric` ("cosine", the default, or "l2"); `blas_threads` (default 1; OpenBLAS's
// thread count is process-wide).
// Embeddings are "<f4" ndarrays; "<f8" ones are converted. An embedding with a NaN or infinite
// value, or whose norm float dot products cannot hold (a non-zero norm outside about 2.2e-19 to
// 9.2e18), is invalid input at /index and /search alike. Thread-compatible: the runtime runs
// endpoints, Snapshot and Restore one at a time.
class ExactNNIndexer : public Executor {
 public:
  using Metric = ExactNNIndex::Metric;

  // Reads uses_with; an unknown metric or a bad thread count is InvalidArgument.
  static StatusOr<std::unique_ptr<ExactNNIndexer>> Create(const Config& with);
  explicit ExactNNIndexer(Metric metric) : index_(metric) {}

  static void Register(Endpoints<ExactNNIndexer>& e) {
    e.On("/index", &ExactNNIndexer::Index).Write();
    e.On("/search", &ExactNNIndexer::Search);
    e.On("/count", &ExactNNIndexer::Count);
  }

  Status Index(DocList& docs, const Params& params);
  Status Search(DocList& docs, const Params& params);
  Status Count(DocList& docs, const Params& params);

  // Format (little-endian): magic "SHOALENN", u32 version 1, u32 dim, u64 count, count ids and
  // count texts (each a u64 length and bytes), count * dim floats, u64 FNV-1a checksum.
  Status Snapshot(const std::filesystem::path& file) const override;
  Status Restore(const std::filesystem::path& file) override;

  // FNV-1a over every stored id, text and vector, in the order they were first indexed.
  uint64_t Checksum() const;
  Metric metric() const { return index_.metric(); }
  size_t size() const { return index_.size(); }
  // 0 until the first doc is indexed.
  size_t dim() const { return index_.dim(); }

 private:
  void FillMatches(Doc query, std::span<const ExactNNIndex::Match> matches) const;

  ExactNNIndex index_;
  std::vector<std::string> texts_;  // the text of each of index_'s rows
};

}  // namespace shoal::builtin

#endif  // SHOAL_EXECUTORS_EXACT_NN_INDEXER_H_
