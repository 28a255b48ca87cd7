// Snapshot files (the stateful built-in Executors' and a stateful replica's Raft snapshots): a
// magic, a format version, the payload and a checksum. Writes go to a temp file that replaces the
// snapshot only when complete; reads report every kind of damage as DataLoss naming the file.
#ifndef SHOAL_COMMON_SNAPSHOT_FILE_H_
#define SHOAL_COMMON_SNAPSHOT_FILE_H_

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "shoal/status.h"

namespace shoal {

// 64-bit FNV-1a: the snapshot checksum, also used to fingerprint an Executor's state. Start with
// kFnvOffset and feed the bytes in order.
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
uint64_t Fnv1a(uint64_t hash, const void* data, size_t size);

// Streams one snapshot to `<path>.tmp`; Commit() appends the checksum, syncs and renames the file
// to `path`. Destroying an uncommitted writer removes the temp file. Thread-compatible.
class SnapshotWriter {
 public:
  // `magic` is exactly 8 bytes.
  static StatusOr<std::unique_ptr<SnapshotWriter>> Create(const std::filesystem::path& path,
                                                          std::string_view magic, uint32_t version);
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;
  ~SnapshotWriter();

  // Little-endian integers; strings as a u64 length and the bytes. Errors surface in Commit(),
  // which may be called once.
  void Write(const void* data, size_t size);
  void WriteU32(uint32_t value) { Write(&value, sizeof(value)); }
  void WriteU64(uint64_t value) { Write(&value, sizeof(value)); }
  void WriteString(std::string_view s);

  Status Commit();

 private:
  SnapshotWriter(std::filesystem::path path, std::filesystem::path temp, std::FILE* file);

  const std::filesystem::path path_;
  const std::filesystem::path temp_;
  std::FILE* file_;
  uint64_t checksum_;
  bool failed_ = false;
  bool committed_ = false;
};

// Reads a file written by SnapshotWriter. Thread-compatible.
class SnapshotReader {
 public:
  // Opens `path` and checks its magic and version (`version` must equal it).
  static StatusOr<std::unique_ptr<SnapshotReader>> Open(const std::filesystem::path& path,
                                                        std::string_view magic, uint32_t version);
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;
  ~SnapshotReader();

  // Each fails with DataLoss naming `what` when the payload holds fewer bytes than asked for.
  Status Read(void* data, size_t size, std::string_view what);
  Status ReadU32(uint32_t* value, std::string_view what);
  Status ReadU64(uint64_t* value, std::string_view what);
  Status ReadString(std::string* s, std::string_view what);

  // Payload bytes not read yet; lets callers check a count before allocating for it.
  uint64_t remaining() const { return remaining_; }
  // A DataLoss error naming the file and `what` is wrong with it.
  Status Corrupt(std::string_view what) const;
  // Checks that the whole payload was read and that the checksum matches.
  Status Finish();

 private:
  SnapshotReader(std::filesystem::path path, std::FILE* file, uint64_t payload_size);

  const std::filesystem::path path_;
  std::FILE* file_;
  uint64_t remaining_;
  uint64_t checksum_;
};

}  // namespace shoal

#endif  // SHOAL_COMMON_SNAPSHOT_FILE_H_
