// Log entries: version 1 is a bare request, version 2 a length-prefixed batch of them.
#include "src/replica/log_entry.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace shoal::replica {
namespace {

constexpr char kMagic[] = {'\0', 'S'};
constexpr char kBatchVersion = 2;

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads a varint at `*at`; false when the entry ends inside it or it is longer than 10 bytes.
bool GetVarint(std::string_view entry, size_t* at, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && *at < entry.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(entry[(*at)++]);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

Status Damaged(std::string_view entry, size_t at, std::string_view what) {
  return absl::DataLossError(absl::StrCat("a version 2 Raft log entry (", entry.size(),
                                          " bytes) is damaged at byte ", at, ": ",
                                          absl::string_view(what.data(), what.size())));
}

}  // namespace

std::string EncodeLogEntry(const std::vector<std::string>& requests) {
  if (requests.size() == 1) return requests[0];
  size_t size = sizeof(kMagic) + 1 + 10;
  for (const std::string& request : requests) size += 10 + request.size();
  std::string out;
  out.reserve(size);
  out.append(kMagic, sizeof(kMagic));
  out.push_back(kBatchVersion);
  PutVarint(out, requests.size());
  for (const std::string& request : requests) {
    PutVarint(out, request.size());
    out.append(request);
  }
  return out;
}

StatusOr<std::vector<std::string_view>> DecodeLogEntry(std::string_view entry) {
  if (entry.empty() || entry[0] != kMagic[0]) return std::vector<std::string_view>{entry};
  if (entry.size() < 3 || entry[1] != kMagic[1]) {
    return Damaged(entry, 0, "it starts with a zero byte but not with a version header");
  }
  if (entry[2] != kBatchVersion) {
    return absl::DataLossError(absl::StrCat(
        "a Raft log entry has version ", static_cast<int>(static_cast<unsigned char>(entry[2])),
        ", which this Shoal does not know (it reads versions 1 and 2): a newer Shoal wrote it; "
        "upgrade this replica"));
  }
  size_t at = 3;
  uint64_t count = 0;
  if (!GetVarint(entry, &at, &count)) return Damaged(entry, at, "the request count is cut short");
  if (count == 0 || count > kMaxEntryRequests) {
    return Damaged(entry, 3,
                   absl::StrCat("it holds ", count, " requests (1 to ", kMaxEntryRequests, ")"));
  }
  std::vector<std::string_view> requests;
  requests.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t length = 0;
    const size_t start = at;
    if (!GetVarint(entry, &at, &length) || length > entry.size() - at) {
      return Damaged(entry, start, absl::StrCat("request ", i + 1, " of ", count, " is cut short"));
    }
    requests.push_back(entry.substr(at, length));
    at += length;
  }
  if (at != entry.size()) {
    return Damaged(entry, at, absl::StrCat(entry.size() - at, " bytes follow the last request"));
  }
  return requests;
}

}  // namespace shoal::replica
