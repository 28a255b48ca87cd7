// The Counter built-in Executor (DESIGN.md §5) and its snapshot file: magic "SHOALCNT", version 1,
// the count as a u64, then the checksum (see src/common/snapshot_file.h).
#include "executors/counter.h"

#include <memory>
#include <string>

#include "executors/echo.h"
#include "src/common/snapshot_file.h"

namespace shoal::builtin {
namespace {

constexpr std::string_view kMagic = "SHOALCNT";
constexpr uint32_t kVersion = 1;

}  // namespace

void ReplaceWithCount(DocList& docs, uint64_t count, std::string_view runtime_name) {
  docs.Clear();
  docs.Add().set_text(std::to_string(count));
  SetServedBy(docs, runtime_name);
}

Status Counter::Index(DocList& docs, const Params& params) {
  count_ += docs.size();
  return absl::OkStatus();
}

Status Counter::Count(DocList& docs, const Params& params) {
  ReplaceWithCount(docs, count_, runtime_name());
  return absl::OkStatus();
}

Status Counter::Snapshot(const std::filesystem::path& file) const {
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotWriter> writer,
                         SnapshotWriter::Create(file, kMagic, kVersion));
  writer->WriteU64(count_);
  return writer->Commit();
}

Status Counter::Restore(const std::filesystem::path& file) {
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotReader> reader,
                         SnapshotReader::Open(file, kMagic, kVersion));
  uint64_t count = 0;
  SHOAL_RETURN_IF_ERROR(reader->ReadU64(&count, "count"));
  SHOAL_RETURN_IF_ERROR(reader->Finish());
  count_ = count;
  return absl::OkStatus();
}

SHOAL_EXECUTOR(Counter);

}  // namespace shoal::builtin
