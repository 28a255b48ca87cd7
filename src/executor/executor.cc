// The Executor base class's defaults and shoal::Request over the runtime's RequestState.
#include "shoal/executor.h"

#include "src/executor/request_state.h"

namespace shoal {

Status Executor::Snapshot(const std::filesystem::path& file) const {
  return absl::UnimplementedError("this Executor does not implement Snapshot()");
}

Status Executor::Restore(const std::filesystem::path& file) {
  return absl::UnimplementedError("this Executor does not implement Restore()");
}

DocList& Request::docs() { return state_->docs; }
const Params& Request::params() const { return state_->params; }
std::string_view Request::endpoint() const { return state_->endpoint; }
size_t Request::num_parts() const { return state_->parts.size(); }

DocList Request::part(size_t i) const { return DocList(state_->parts.at(i)); }

std::string_view Request::part_origin(size_t i) const { return state_->part_origins.at(i); }

namespace {

google::protobuf::Struct* OwnResults(internal::RequestState& state) {
  google::protobuf::Value& mine =
      (*state.results->mutable_fields())[std::string(state.runtime_name)];
  return mine.mutable_struct_value();
}

}  // namespace

void Request::SetResult(std::string_view key, std::string_view value) {
  if (state_->results == nullptr) return;
  (*OwnResults(*state_)->mutable_fields())[std::string(key)].set_string_value(std::string(value));
}

void Request::SetResult(std::string_view key, double value) {
  if (state_->results == nullptr) return;
  (*OwnResults(*state_)->mutable_fields())[std::string(key)].set_number_value(value);
}

}  // namespace shoal
