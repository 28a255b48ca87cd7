// Replacing a small file all at once: a reader (or the next start after a crash or a full disk)
// sees either the old content or the new, never a truncated file.
#ifndef SHOAL_COMMON_ATOMIC_FILE_H_
#define SHOAL_COMMON_ATOMIC_FILE_H_

#include <filesystem>
#include <string_view>

#include "shoal/status.h"

namespace shoal {

// Writes `content` to a fresh temp file next to `path`, syncs it, renames it over `path` and syncs
// the folder. On failure `path` keeps its old content and the temp file is removed; the error
// names the file and the reason (RESOURCE_EXHAUSTED for a full disk).
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view content);

}  // namespace shoal

#endif  // SHOAL_COMMON_ATOMIC_FILE_H_
