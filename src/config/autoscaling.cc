// Parsing and checking `autoscaling:`. Every key is read from the converted map, so YAML, the
// C++ API (a JSON object) and Python (a dict) share one reader and one set of errors.
#include "src/config/autoscaling.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "src/common/strings.h"
#include "src/config/deployment_spec.h"

namespace shoal::config {
namespace {

using google::protobuf::Value;
using Origin = std::map<std::string, std::string>;

// Ray Serve keys Shoal does not implement, and why.
constexpr std::pair<std::string_view, std::string_view> kUnsupported[] = {
    {"downscale_to_zero_delay_s", "Shoal keeps at least min_replicas (>= 1) running"},
    {"aggregation_function", "the in-flight counts are always averaged"},
    {"policy", "custom autoscaling policies are not supported"},
};

// Older names Ray Serve still accepts.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"target_num_ongoing_requests_per_replica", "target_ongoing_requests"},
    {"upscale_smoothing_factor", "upscaling_factor"},
    {"downscale_smoothing_factor", "downscaling_factor"},
};

struct Key {
  std::string_view name;
  double AutoscalingConfig::*number = nullptr;  // else an int field
  int AutoscalingConfig::*count = nullptr;
};

// clang-format off
constexpr Key kKeys[] = {
    {"min_replicas", nullptr, &AutoscalingConfig::min_replicas},
    {"max_replicas", nullptr, &AutoscalingConfig::max_replicas},
    {"initial_replicas"},
    {"target_ongoing_requests", &AutoscalingConfig::target_ongoing_requests},
    {"metrics_interval_s", &AutoscalingConfig::metrics_interval_s},
    {"look_back_period_s", &AutoscalingConfig::look_back_period_s},
    {"upscale_delay_s", &AutoscalingConfig::upscale_delay_s},
    {"downscale_delay_s", &AutoscalingConfig::downscale_delay_s},
    {"upscaling_factor", &AutoscalingConfig::upscaling_factor},
    {"downscaling_factor", &AutoscalingConfig::downscaling_factor},
    {"smoothing_factor"},
};
// clang-format on

// InvalidArgument "location: autoscaling.key: message", the location of the key if known,
// else of `autoscaling`.
Status Error(const Origin& origin, std::string_view key, std::string_view message) {
  const std::string full =
      key.empty() ? std::string("autoscaling") : absl::StrFormat("autoscaling.%s", AsAbsl(key));
  for (const std::string& lookup : {full, std::string("autoscaling")}) {
    auto it = origin.find(lookup);
    if (it != origin.end() && !it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", it->second, full, message));
    }
  }
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", full, message));
}

StatusOr<double> ToNumber(const Value& value, const Origin& origin, std::string_view key) {
  double number = 0;
  if (value.has_number_value()) {
    number = value.number_value();
  } else if (!value.has_string_value() || !absl::SimpleAtod(value.string_value(), &number)) {
    return Error(origin, key, absl::StrFormat("expected a number, got %s", DescribeValue(value)));
  }
  if (!std::isfinite(number)) return Error(origin, key, "expected a finite number");
  return number;
}

StatusOr<int> ToCount(const Value& value, const Origin& origin, std::string_view key) {
  SHOAL_ASSIGN_OR_RETURN(double number, ToNumber(value, origin, key));
  if (std::trunc(number) != number || number < 0 || number > 1e6) {
    return Error(
        origin, key,
        absl::StrFormat("expected a whole number of replicas, got %s", DescribeValue(value)));
  }
  return static_cast<int>(number);
}

// The canonical key `written` stands for: itself, with `_s` added, or an alias; empty if none.
std::string_view Canonical(std::string_view written) {
  for (const Key& key : kKeys) {
    if (key.name == written) return key.name;
    if (key.name.ends_with("_s") && key.name.substr(0, key.name.size() - 2) == written) {
      return key.name;
    }
  }
  for (const auto& [alias, name] : kAliases) {
    if (alias == written) return name;
  }
  return {};
}

Status UnknownKey(const Origin& origin, const std::string& written) {
  for (const auto& [name, why] : kUnsupported) {
    if (name == written || name.substr(0, name.size() - 2) == written) {
      return Error(origin, written, absl::StrFormat("not supported by Shoal: %s", AsAbsl(why)));
    }
  }
  std::vector<std::string_view> known;
  for (const Key& key : kKeys) known.push_back(key.name);
  std::string hint = DidYouMean(written, known);
  if (hint.empty()) {
    hint =
        "; autoscaling takes min_replicas, max_replicas, initial_replicas, "
        "target_ongoing_requests, metrics_interval_s, look_back_period_s, upscale_delay_s, "
        "downscale_delay_s, upscaling_factor, downscaling_factor, smoothing_factor";
  }
  return Error(origin, written, absl::StrFormat("unknown key%s", hint));
}

// Each value against its own range (the combinations are checked once all are read). `key` as
// written, so that the error names it.
Status CheckRange(const Origin& origin, std::string_view key, double value) {
  if (key == "min_replicas" && value < 1) {
    return Error(origin, key, "must be at least 1 (Shoal does not scale to zero)");
  }
  if ((key == "max_replicas" || key == "initial_replicas") && value < 1) {
    return Error(origin, key, "must be at least 1");
  }
  const bool may_be_zero = key.find("delay") != std::string_view::npos;
  if (may_be_zero ? value < 0 : value <= 0) {
    return Error(
        origin, key,
        absl::StrFormat("must be %s, got %g", may_be_zero ? "0 or more" : "positive", value));
  }
  return absl::OkStatus();
}

Status CheckBounds(const AutoscalingConfig& config, const Origin& origin) {
  if (config.max_replicas < config.min_replicas) {
    return Error(origin, "max_replicas",
                 absl::StrFormat("%d is less than min_replicas (%d)", config.max_replicas,
                                 config.min_replicas));
  }
  if (config.initial_replicas && (*config.initial_replicas < config.min_replicas ||
                                  *config.initial_replicas > config.max_replicas)) {
    return Error(
        origin, "initial_replicas",
        absl::StrFormat("%d is outside [min_replicas, max_replicas] = [%d, %d]",
                        *config.initial_replicas, config.min_replicas, config.max_replicas));
  }
  return absl::OkStatus();
}

// Sets the canonical key `name` of `config` from `value`.
Status Assign(AutoscalingConfig& config, const Origin& origin, std::string_view name,
              const std::string& written, const Value& value) {
  for (const Key& key : kKeys) {
    if (key.name != name) continue;
    if (key.number == nullptr) {
      SHOAL_ASSIGN_OR_RETURN(int count, ToCount(value, origin, written));
      SHOAL_RETURN_IF_ERROR(CheckRange(origin, written, count));
      if (key.count != nullptr) {
        config.*key.count = count;
      } else {
        config.initial_replicas = count;
      }
      return absl::OkStatus();
    }
    SHOAL_ASSIGN_OR_RETURN(double number, ToNumber(value, origin, written));
    SHOAL_RETURN_IF_ERROR(CheckRange(origin, written, number));
    config.*key.number = number;
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<AutoscalingConfig> ParseAutoscaling(const google::protobuf::Struct& fields,
                                             const Origin& origin) {
  AutoscalingConfig config;
  std::map<std::string_view, std::string> written_as;  // canonical -> the key as written
  std::optional<double> smoothing;
  for (const auto& [written, value] : fields.fields()) {
    const std::string_view name = Canonical(written);
    if (name.empty()) return UnknownKey(origin, written);
    auto [it, inserted] = written_as.emplace(name, written);
    if (!inserted) {
      return Error(origin, written,
                   absl::StrFormat("given twice (also as '%s')", AsAbsl(it->second)));
    }
    if (name == "smoothing_factor") {
      SHOAL_ASSIGN_OR_RETURN(smoothing, ToNumber(value, origin, written));
      SHOAL_RETURN_IF_ERROR(CheckRange(origin, written, *smoothing));
      continue;
    }
    SHOAL_RETURN_IF_ERROR(Assign(config, origin, name, written, value));
  }
  if (smoothing) {
    if (!written_as.contains("upscaling_factor")) config.upscaling_factor = *smoothing;
    if (!written_as.contains("downscaling_factor")) config.downscaling_factor = *smoothing;
  }
  SHOAL_RETURN_IF_ERROR(CheckBounds(config, origin));
  return config;
}

Status ValidateAutoscaling(const DeploymentSpec& spec) {
  if (!spec.autoscaling) return absl::OkStatus();
  if (spec.stateful) {
    return Error(spec.origin, "",
                 "not with stateful: true (a stateful Deployment changes its Raft membership "
                 "with each replica; scale it with Scale() or `shoal deployment` instead)");
  }
  if (spec.external) {
    return Error(spec.origin, "", "not with external: true (its replicas run elsewhere)");
  }
  return CheckBounds(*spec.autoscaling, spec.origin);
}

int InitialReplicas(const DeploymentSpec& spec) {
  if (!spec.autoscaling) return spec.replicas;
  const AutoscalingConfig& config = *spec.autoscaling;
  if (config.initial_replicas) return *config.initial_replicas;
  return std::clamp(spec.replicas, config.min_replicas, config.max_replicas);
}

int PeakReplicas(const DeploymentSpec& spec) {
  return spec.autoscaling ? std::max(spec.autoscaling->max_replicas, spec.replicas) : spec.replicas;
}

}  // namespace shoal::config
