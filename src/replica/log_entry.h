// The Raft log entries of a stateful replica: write requests as the bytes they arrived as.
// Version 1 (every Shoal before group commit, and still one request alone) is the serialized
// jina.DataRequestProto itself. Version 2 holds several requests committed together:
//   0x00 'S' 0x02, varint count, then count x (varint length, request bytes).
// No protobuf message starts with a zero byte (field number 0 does not exist), so an entry of
// either version reads unambiguously. Each entry's integrity is the Raft layer's CRC-32C.
#ifndef SHOAL_REPLICA_LOG_ENTRY_H_
#define SHOAL_REPLICA_LOG_ENTRY_H_

#include <string>
#include <string_view>
#include <vector>

#include "shoal/status.h"

namespace shoal::replica {

// At most this many requests in one entry.
inline constexpr size_t kMaxEntryRequests = 4096;

// One entry holding `requests` (at least one): version 1 for a single request, else version 2.
std::string EncodeLogEntry(const std::vector<std::string>& requests);

// The requests of an entry (views into `entry`), in order. DATA_LOSS naming the version, the
// offset and what is wrong when a version 2 entry is cut short or names an unknown version.
StatusOr<std::vector<std::string_view>> DecodeLogEntry(std::string_view entry);

}  // namespace shoal::replica

#endif  // SHOAL_REPLICA_LOG_ENTRY_H_
