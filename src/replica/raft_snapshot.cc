#include "src/replica/raft_snapshot.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace shoal::replica {
namespace {

// Magic, u32 version, then the payload: the remembered request ids (u64 count; u32 length and
// bytes each, then, from version 2, u32 length and bytes of the request's digest), then the
// Executor's own snapshot (u64 length and bytes). Little-endian. Version 3 files are written by
// SnapshotWriter, which ends them with a checksum; versions 1 and 2 have none.
constexpr char kMagic[8] = {'S', 'H', 'O', 'A', 'L', 'R', 'S', 'N'};
constexpr uint32_t kVersion = 3;
constexpr uint32_t kMaxIdSize = 4096;

// Reads `size` bytes of the payload; false when there are not as many.
using ReadFn = absl::FunctionRef<bool(void* data, size_t size)>;

Status Damaged(const std::string& path, std::string_view what) {
  return absl::DataLossError(absl::StrCat("Raft snapshot ", path, ": ", AsAbsl(what)));
}

// Reads `count` remembered ids.
Status ReadIds(ReadFn read, uint32_t version, const std::string& path, size_t max_ids,
               std::vector<RememberedId>* ids) {
  uint64_t count = 0;
  if (!read(&count, sizeof(count)) || count > max_ids) {
    return Damaged(path, "bad request id count");
  }
  ids->assign(count, RememberedId());
  for (auto& [id, digest] : *ids) {
    uint32_t size = 0;
    if (!read(&size, sizeof(size)) || size > kMaxIdSize) return Damaged(path, "bad request id");
    id.resize(size);
    if (!read(id.data(), size)) return Damaged(path, "truncated request ids");
    if (version < 2) continue;  // no digests: any request under a restored id is a retry
    if (!read(&size, sizeof(size)) || size > EVP_MAX_MD_SIZE) {
      return Damaged(path, "bad request digest");
    }
    digest.resize(size);
    if (!read(digest.data(), size)) return Damaged(path, "truncated request digests");
  }
  return absl::OkStatus();
}

// Reads the payload after the header: the ids, then the Executor's state into `executor_file`.
Status ReadPayload(ReadFn read, uint32_t version, const std::string& path,
                   const std::string& executor_file, size_t max_ids,
                   std::vector<RememberedId>* ids) {
  SHOAL_RETURN_IF_ERROR(ReadIds(read, version, path, max_ids, ids));
  uint64_t executor_size = 0;
  if (!read(&executor_size, sizeof(executor_size))) return Damaged(path, "truncated");
  std::ofstream out(executor_file, std::ios::binary | std::ios::trunc);
  std::vector<char> buffer(1 << 20);
  for (uint64_t left = executor_size; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    if (!read(buffer.data(), n)) return Damaged(path, "truncated Executor state");
    out.write(buffer.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
  if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", executor_file));
  return absl::OkStatus();
}

}  // namespace

void WriteRememberedId(SnapshotWriter& writer, const std::string& id, const std::string& digest) {
  writer.WriteU32(static_cast<uint32_t>(id.size()));
  writer.Write(id.data(), id.size());
  writer.WriteU32(static_cast<uint32_t>(digest.size()));
  writer.Write(digest.data(), digest.size());
}

Status WriteRaftSnapshot(const std::string& path, const std::string& executor_file,
                         absl::FunctionRef<void(SnapshotWriter&)> write_ids) {
  std::error_code error;
  const uint64_t executor_size = std::filesystem::file_size(executor_file, error);
  if (error) {
    return absl::InternalError(absl::StrCat("the Executor's snapshot ", executor_file,
                                            " cannot be read: ", error.message()));
  }
  std::ifstream in(executor_file, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot open ", executor_file));
  SHOAL_ASSIGN_OR_RETURN(
      std::unique_ptr<SnapshotWriter> writer,
      SnapshotWriter::Create(path, std::string_view(kMagic, sizeof(kMagic)), kVersion));
  write_ids(*writer);
  writer->WriteU64(executor_size);
  std::vector<char> buffer(1 << 20);
  uint64_t copied = 0;
  while (copied < executor_size &&
         in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())).gcount() > 0) {
    const auto n = static_cast<size_t>(in.gcount());
    writer->Write(buffer.data(), n);
    copied += n;
  }
  if (copied != executor_size) {
    return absl::InternalError(
        absl::StrCat("the Executor's snapshot ", executor_file, " changed while it was read"));
  }
  return writer->Commit();
}

Status ReadRaftSnapshot(const std::string& path, const std::string& executor_file, size_t max_ids,
                        std::vector<RememberedId>* ids) {
  uint32_t version = 0;
  {
    std::ifstream in(path, std::ios::binary);
    char magic[sizeof(kMagic)];
    if (!in.read(magic, sizeof(magic)) ||
        !std::equal(std::begin(magic), std::end(magic), std::begin(kMagic))) {
      return Damaged(path, "not a Shoal snapshot");
    }
    if (!in.read(reinterpret_cast<char*>(&version), sizeof(version)) || version < 1 ||
        version > kVersion) {
      return Damaged(path, "unknown version");
    }
    if (version < 3) {  // written before snapshots had a checksum
      auto read = [&in](void* data, size_t size) {
        return static_cast<bool>(
            in.read(static_cast<char*>(data), static_cast<std::streamsize>(size)));
      };
      return ReadPayload(read, version, path, executor_file, max_ids, ids);
    }
  }
  SHOAL_ASSIGN_OR_RETURN(
      std::unique_ptr<SnapshotReader> reader,
      SnapshotReader::Open(path, std::string_view(kMagic, sizeof(kMagic)), kVersion));
  auto read = [&reader](void* data, size_t size) {
    return reader->Read(data, size, "payload").ok();
  };
  SHOAL_RETURN_IF_ERROR(ReadPayload(read, version, path, executor_file, max_ids, ids));
  return reader->Finish();
}

}  // namespace shoal::replica
