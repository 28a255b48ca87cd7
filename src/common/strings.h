// Bridges between std::string_view and Debian's absl::string_view, which is a distinct type in
// the packaged abseil: absl::StrCat and friends do not take std::string_view directly.
#ifndef SHOAL_COMMON_STRINGS_H_
#define SHOAL_COMMON_STRINGS_H_

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace shoal {

inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view AsStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// `s` without its leading and trailing ASCII whitespace (absl::StripAsciiWhitespace).
inline std::string_view StripWhitespace(std::string_view s) {
  return AsStd(absl::StripAsciiWhitespace(AsAbsl(s)));
}

}  // namespace shoal

#endif  // SHOAL_COMMON_STRINGS_H_
