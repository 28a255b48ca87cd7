#include "src/gateway/target_pattern.h"

#include <re2/re2.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace shoal::gateway {

TargetPattern::TargetPattern(std::unique_ptr<re2::RE2> re) : re_(std::move(re)) {}

TargetPattern::~TargetPattern() = default;

StatusOr<std::unique_ptr<TargetPattern>> TargetPattern::Compile(std::string_view pattern) {
  if (pattern.size() > kMaxLength) {
    return absl::InvalidArgumentError(absl::StrCat("target_executor: the pattern has ",
                                                   pattern.size(),
                                                   " characters, over the limit of ", kMaxLength));
  }
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxMemBytes);
  auto re = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target_executor '", AsAbsl(pattern),
        "' is not a regular expression the gateway can run: ", re->error(),
        " (RE2 syntax: no backreferences or lookaround; at most ", kMaxLength, " characters)"));
  }
  return std::unique_ptr<TargetPattern>(new TargetPattern(std::move(re)));
}

bool TargetPattern::Matches(std::string_view name) const {
  return re_->Match(re2::StringPiece(name.data(), name.size()), 0, name.size(),
                    re2::RE2::ANCHOR_START, nullptr, 0);
}

}  // namespace shoal::gateway
