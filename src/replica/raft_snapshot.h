// The Raft snapshot of a stateful replica: the request ids it remembers (so that a retried write
// is not applied twice after a restore) and its Executor's own snapshot. Written through
// SnapshotWriter (checksum, temp file, fsync, rename); files of earlier versions stay readable.
#ifndef SHOAL_REPLICA_RAFT_SNAPSHOT_H_
#define SHOAL_REPLICA_RAFT_SNAPSHOT_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "shoal/status.h"
#include "src/common/snapshot_file.h"

namespace shoal::replica {

// A remembered request: its id and the digest of what makes two requests the same write.
using RememberedId = std::pair<std::string, std::string>;

// Writes one remembered id through `writer` (inside WriteRaftSnapshot's `write_ids`).
void WriteRememberedId(SnapshotWriter& writer, const std::string& id, const std::string& digest);

// Writes `path`: `write_ids` writes the number of ids (WriteU64) and then each one
// (WriteRememberedId); the bytes of `executor_file` (the Executor's snapshot) follow.
Status WriteRaftSnapshot(const std::string& path, const std::string& executor_file,
                         absl::FunctionRef<void(SnapshotWriter&)> write_ids);

// Reads `path` (any version): the remembered ids (at most `max_ids`; digests are empty in
// version 1 files) into `ids`, and the Executor's snapshot into `executor_file`. DataLoss naming
// the file and what is wrong with it; a version 3 file is checked against its checksum before
// this returns.
Status ReadRaftSnapshot(const std::string& path, const std::string& executor_file, size_t max_ids,
                        std::vector<RememberedId>* ids);

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_RAFT_SNAPSHOT_H_
