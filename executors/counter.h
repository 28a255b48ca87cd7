// The Counter built-in Executor: the smallest stateful Executor, counting the docs it indexed so
// that tests of stateful Deployments can check that every replica saw every write.
#ifndef SHOAL_EXECUTORS_COUNTER_H_
#define SHOAL_EXECUTORS_COUNTER_H_

#include <cstdint>
#include <filesystem>

#include "shoal/executor.h"

namespace shoal::builtin {

// Answers the `/count` endpoint shared by Counter and ExactNNIndexer: replaces `docs` with one doc
// whose text is `count` in decimal, marked with `served_by`.
void ReplaceWithCount(DocList& docs, uint64_t count, std::string_view runtime_name);

// `/index` (a write) adds the number of docs to the count and returns them unchanged; `/count`
// answers one doc holding the count. Thread-compatible: the runtime runs endpoints, Snapshot and
// Restore one at a time.
class Counter : public Executor {
 public:
  explicit Counter(const Config& with) {}

  static void Register(Endpoints<Counter>& e) {
    e.On("/index", &Counter::Index).Write();
    e.On("/count", &Counter::Count);
  }

  Status Index(DocList& docs, const Params& params);
  Status Count(DocList& docs, const Params& params);

  Status Snapshot(const std::filesystem::path& file) const override;
  Status Restore(const std::filesystem::path& file) override;

  uint64_t count() const { return count_; }

 private:
  uint64_t count_ = 0;
};

}  // namespace shoal::builtin

#endif  // SHOAL_EXECUTORS_COUNTER_H_
