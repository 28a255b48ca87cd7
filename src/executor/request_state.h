// What the replica runtime hands an endpoint for one call (behind shoal::Request), and the
// runtime's private access to Executor fields.
#ifndef SHOAL_EXECUTOR_REQUEST_STATE_H_
#define SHOAL_EXECUTOR_REQUEST_STATE_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "docarray.pb.h"
#include "google/protobuf/struct.pb.h"
#include "shoal/executor.h"

namespace shoal::internal {

struct RequestState {
  // A view into the request being answered (set by the runtime; starts as an empty view, not an
  // owned list, so that no message is allocated per request).
  DocList docs{static_cast<docarray::DocListProto*>(nullptr)};
  Params params;  // the request's parameters (per-executor merged)
  std::string_view endpoint;
  std::vector<docarray::DocListProto*> parts;  // one per part; the docs when single-part
  std::vector<std::string_view> part_origins;  // last route's executor of each part
  std::string_view runtime_name;
  google::protobuf::Struct* results = nullptr;  // `parameters.__results__` of the response
  // Keeps the request's memory (its arena) alive while held: an Executor that hands out views of
  // the docs which may outlive the call (Python) takes a copy. Null when the caller cannot share
  // it; such an Executor then copies what it hands out.
  std::shared_ptr<const void> memory;
  // Whether the caller is gone (cancelled, disconnected, deadline passed); empty: never.
  std::function<bool()> cancelled;
};

// The request the calling thread's Executor is serving: set by the runtime around each endpoint
// call, so that Executor::request_cancelled() (and Executors in other languages) can reach it.
const RequestState* CurrentRequest();
class CurrentRequestScope {
 public:
  explicit CurrentRequestScope(const RequestState* state);
  ~CurrentRequestScope();
  CurrentRequestScope(const CurrentRequestScope&) = delete;
  CurrentRequestScope& operator=(const CurrentRequestScope&) = delete;

 private:
  const RequestState* previous_;
};

// Lets the runtime set what an Executor may read about itself.
class RuntimeAccess {
 public:
  static void Init(Executor& executor, std::string runtime_name, std::filesystem::path workspace) {
    executor.runtime_name_ = std::move(runtime_name);
    executor.workspace_ = std::move(workspace);
  }
  // What `request` stands for (for Executors in other languages, which need all of it).
  static RequestState& State(Request& request) { return *request.state_; }
};

}  // namespace shoal::internal

#endif  // SHOAL_EXECUTOR_REQUEST_STATE_H_
