// The Executor base class's defaults and shoal::Request over the runtime's RequestState.
#include "shoal/executor.h"

#include <utility>

#include "src/executor/request_state.h"

namespace shoal {

Status Executor::Snapshot(const std::filesystem::path& file) const {
  return absl::UnimplementedError("this Executor does not implement Snapshot()");
}

Status Executor::Restore(const std::filesystem::path& file) {
  return absl::UnimplementedError("this Executor does not implement Restore()");
}

namespace internal {
namespace {
thread_local const RequestState* current_request = nullptr;
}  // namespace

const RequestState* CurrentRequest() { return current_request; }

CurrentRequestScope::CurrentRequestScope(const RequestState* state)
    : previous_(std::exchange(current_request, state)) {}

CurrentRequestScope::~CurrentRequestScope() { current_request = previous_; }

}  // namespace internal

bool Executor::request_cancelled() const {
  const internal::RequestState* state = internal::CurrentRequest();
  return state != nullptr && state->cancelled && state->cancelled();
}

bool Request::cancelled() const { return state_->cancelled && state_->cancelled(); }

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
