#include "src/config/spec_change.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"

namespace shoal::config {

StatusOr<SpecChange> DiffDeploymentSpecs(const DeploymentSpec& from, const DeploymentSpec& to) {
  if (from.name != to.name || from.shards != to.shards || from.stateful != to.stateful ||
      from.external != to.external) {
    return absl::InvalidArgumentError(
        absl::StrCat("Deployment '", from.name,
                     "': name, shards, stateful and external cannot change while it runs"));
  }
  SpecChange change;
  using google::protobuf::util::MessageDifferencer;
  if (from.uses != to.uses) change.restart.push_back("uses");
  if (!MessageDifferencer::Equals(from.uses_with, to.uses_with)) {
    change.restart.push_back("uses_with");
  }
  if (from.env != to.env) change.restart.push_back("env");
  if (from.replicas != to.replicas) change.in_place.push_back("replicas");
  return change;
}

}  // namespace shoal::config
