// Snapshot file I/O shared by the Counter and ExactNNIndexer built-in Executors: a stdio stream,
// a running FNV-1a checksum, fsync and rename for an all-or-nothing replace.
#include "src/common/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/str_format.h"

namespace shoal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "snapshot files are little-endian and written with memcpy");

constexpr size_t kMagicSize = 8;
constexpr size_t kHeaderSize = kMagicSize + sizeof(uint32_t);

std::string Quoted(const std::filesystem::path& path) {
  return absl::StrFormat("'%s'", path.string());
}

Status ErrnoError(std::string_view action, const std::filesystem::path& path, int error) {
  std::string message = absl::StrFormat("%s %s: %s", action, Quoted(path), std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  if (error == ENOSPC) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

// Makes a rename inside `dir` durable.
void SyncDirectory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

uint64_t Fnv1a(uint64_t hash, const void* data, size_t size) {
  constexpr uint64_t kFnvPrime = 0x100000001b3ull;
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * kFnvPrime;
  return hash;
}

StatusOr<std::unique_ptr<SnapshotWriter>> SnapshotWriter::Create(const std::filesystem::path& path,
                                                                 std::string_view magic,
                                                                 uint32_t version) {
  std::filesystem::path temp = path;
  temp += ".tmp";
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) return ErrnoError("creating snapshot", temp, errno);
  std::unique_ptr<SnapshotWriter> writer(new SnapshotWriter(path, std::move(temp), file));
  writer->Write(magic.data(), kMagicSize);
  writer->WriteU32(version);
  return writer;
}

SnapshotWriter::SnapshotWriter(std::filesystem::path path, std::filesystem::path temp,
                               std::FILE* file)
    : path_(std::move(path)), temp_(std::move(temp)), file_(file), checksum_(kFnvOffset) {}

SnapshotWriter::~SnapshotWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

void SnapshotWriter::Write(const void* data, size_t size) {
  if (failed_ || size == 0) return;
  checksum_ = Fnv1a(checksum_, data, size);
  if (std::fwrite(data, 1, size, file_) != size) failed_ = true;
}

void SnapshotWriter::WriteString(std::string_view s) {
  WriteU64(s.size());
  Write(s.data(), s.size());
}

Status SnapshotWriter::Commit() {
  if (file_ == nullptr) return absl::FailedPreconditionError("snapshot already committed");
  uint64_t checksum = checksum_;
  if (!failed_ && std::fwrite(&checksum, 1, sizeof(checksum), file_) != sizeof(checksum)) {
    failed_ = true;
  }
  int error = 0;
  if (failed_ || std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) error = errno;
  if (std::fclose(file_) != 0 && error == 0) error = errno;
  file_ = nullptr;
  if (error != 0 || failed_) return ErrnoError("writing snapshot", temp_, error ? error : EIO);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    return ErrnoError(absl::StrFormat("renaming %s to", Quoted(temp_)), path_, errno);
  }
  committed_ = true;
  SyncDirectory(path_.parent_path());
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(const std::filesystem::path& path,
                                                               std::string_view magic,
                                                               uint32_t version) {
  std::error_code error;
  uint64_t size = std::filesystem::file_size(path, error);
  if (error) return ErrnoError("reading snapshot", path, error.value());
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return ErrnoError("reading snapshot", path, errno);
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader(path, file, 0));
  if (size < kHeaderSize + sizeof(uint64_t)) {
    return reader->Corrupt(absl::StrFormat("only %d bytes, too short for a snapshot", size));
  }
  reader->remaining_ = size - sizeof(uint64_t);
  char found_magic[kMagicSize];
  uint32_t found_version = 0;
  SHOAL_RETURN_IF_ERROR(reader->Read(found_magic, kMagicSize, "magic"));
  if (std::string_view(found_magic, kMagicSize) != magic.substr(0, kMagicSize)) {
    return reader->Corrupt(absl::StrFormat("bad magic, not a '%s' snapshot", magic));
  }
  SHOAL_RETURN_IF_ERROR(reader->ReadU32(&found_version, "version"));
  if (found_version != version) {
    return reader->Corrupt(
        absl::StrFormat("format version %d is not supported (this build reads version %d)",
                        found_version, version));
  }
  return reader;
}

SnapshotReader::SnapshotReader(std::filesystem::path path, std::FILE* file, uint64_t payload_size)
    : path_(std::move(path)), file_(file), remaining_(payload_size), checksum_(kFnvOffset) {}

SnapshotReader::~SnapshotReader() { std::fclose(file_); }

Status SnapshotReader::Read(void* data, size_t size, std::string_view what) {
  if (size > remaining_ || std::fread(data, 1, size, file_) != size) {
    return Corrupt(absl::StrFormat("truncated while reading %s", what));
  }
  remaining_ -= size;
  checksum_ = Fnv1a(checksum_, data, size);
  return absl::OkStatus();
}

Status SnapshotReader::ReadU32(uint32_t* value, std::string_view what) {
  return Read(value, sizeof(*value), what);
}

Status SnapshotReader::ReadU64(uint64_t* value, std::string_view what) {
  return Read(value, sizeof(*value), what);
}

Status SnapshotReader::ReadString(std::string* s, std::string_view what) {
  uint64_t size = 0;
  SHOAL_RETURN_IF_ERROR(ReadU64(&size, what));
  if (size > remaining_) {
    return Corrupt(absl::StrFormat("length %d of %s exceeds the file", size, what));
  }
  s->resize(size);
  return Read(s->data(), size, what);
}

Status SnapshotReader::Corrupt(std::string_view what) const {
  return absl::DataLossError(absl::StrFormat("snapshot %s is corrupt: %s", Quoted(path_), what));
}

Status SnapshotReader::Finish() {
  if (remaining_ != 0) return Corrupt(absl::StrFormat("%d unexpected trailing bytes", remaining_));
  uint64_t stored = 0;
  if (std::fread(&stored, 1, sizeof(stored), file_) != sizeof(stored)) {
    return Corrupt("truncated while reading the checksum");
  }
  if (stored != checksum_) return Corrupt("checksum mismatch");
  return absl::OkStatus();
}

}  // namespace shoal
