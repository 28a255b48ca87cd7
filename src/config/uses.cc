// `uses:` classification. The order of the checks matters: hub and docker schemes first (they
// also look like paths), then inline YAML (free text), then file suffixes, then class names.
#include "src/config/uses.h"

#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/common/strings.h"

namespace shoal::config {
namespace {

bool IsIdentifier(std::string_view s) {
  if (s.empty() || absl::ascii_isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// `package.module` (one or more identifiers joined by dots).
bool IsModuleName(std::string_view s) {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsIdentifier(s.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsHub(std::string_view uses) {
  for (std::string_view scheme : {"jinaai://", "jinaai+docker://", "jinaai+sandbox://",
                                  "jinahub://", "jinahub+docker://", "jinahub+sandbox://"}) {
    if (uses.starts_with(scheme)) return true;
  }
  return false;
}

UsesSpec Make(UsesSpec::Kind kind, std::string_view path_or_name, std::string_view class_name) {
  UsesSpec spec{kind, std::string(path_or_name), std::string(class_name)};
  return spec;
}

}  // namespace

absl::StatusOr<UsesSpec> ParseUses(std::string_view uses) {
  std::string_view trimmed = StripWhitespace(uses);
  if (trimmed.empty()) return absl::InvalidArgumentError("uses is empty");
  if (IsHub(trimmed)) {
    return absl::UnimplementedError(
        absl::StrFormat("hub executors are not supported: %s", trimmed));
  }
  if (trimmed.starts_with("docker://")) {
    return absl::UnimplementedError(absl::StrFormat(
        "docker executors are not supported: %s; run the image's own server and add it with "
        "external addresses",
        trimmed));
  }
  if (trimmed.starts_with("jtype:") || trimmed.starts_with("!")) {
    UsesSpec spec = Make(UsesSpec::Kind::kYaml, uses, "");
    spec.inline_yaml = true;
    return spec;
  }
  if (trimmed.ends_with(".so")) return Make(UsesSpec::Kind::kLibrary, trimmed, "");
  if (trimmed.ends_with(".py") || trimmed.ends_with(".cloudpickle")) {
    return Make(UsesSpec::Kind::kPython, trimmed, "");
  }
  if (size_t colon = trimmed.rfind(':'); colon != std::string_view::npos) {
    std::string_view path = trimmed.substr(0, colon);
    std::string_view class_name = trimmed.substr(colon + 1);
    if (path.ends_with(".so") && IsIdentifier(class_name)) {
      return Make(UsesSpec::Kind::kLibrary, path, class_name);
    }
    if ((path.ends_with(".py") || IsModuleName(path)) && IsIdentifier(class_name)) {
      return Make(UsesSpec::Kind::kPython, path, class_name);
    }
  }
  if (trimmed.ends_with(".yml") || trimmed.ends_with(".yaml")) {
    return Make(UsesSpec::Kind::kYaml, trimmed, "");
  }
  if (IsIdentifier(trimmed)) return Make(UsesSpec::Kind::kClass, trimmed, "");
  return absl::InvalidArgumentError(absl::StrFormat(
      "cannot interpret uses '%s': expected a registered class name, path/libx.so[:ClassName], "
      "an Executor YAML (.yml/.yaml), inline YAML starting with 'jtype:', or a Python Executor "
      "(path/x.py[:Class], package.module:Class, x.cloudpickle)",
      uses));
}

std::string ResolveUsesNextTo(std::string_view uses, const std::filesystem::path& yaml_dir) {
  absl::StatusOr<UsesSpec> spec = ParseUses(uses);
  if (!spec.ok() || yaml_dir.empty() || spec->inline_yaml) return std::string(uses);
  const bool is_file =
      spec->kind == UsesSpec::Kind::kLibrary || spec->kind == UsesSpec::Kind::kYaml ||
      (spec->kind == UsesSpec::Kind::kPython &&
       (spec->path_or_name.ends_with(".py") || spec->path_or_name.ends_with(".cloudpickle")));
  const std::filesystem::path file(spec->path_or_name);
  if (!is_file || file.is_absolute()) return std::string(uses);
  std::error_code error;
  const std::filesystem::path next_to = yaml_dir / file;
  if (!std::filesystem::is_regular_file(next_to, error)) return std::string(uses);
  std::string resolved = next_to.string();
  if (!spec->class_name.empty()) absl::StrAppend(&resolved, ":", spec->class_name);
  return resolved;
}

}  // namespace shoal::config
