// CallScope: cancellation of a client call's downstream calls, and its downstream streams.
#include "src/routing/call_scope.h"

#include <algorithm>

namespace shoal::routing {

CallScope::~CallScope() {
  std::map<const Endpoint*, std::shared_ptr<DownstreamStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    streams.swap(streams_);
  }
  // Nothing routed for the call is left (each holds the scope): no more messages will come.
  for (auto& [endpoint, stream] : streams) stream->Close();
}

void CallScope::Cancel() {
  std::vector<std::shared_ptr<grpc::ClientContext>> contexts;
  std::vector<std::shared_ptr<DownstreamStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    for (const std::weak_ptr<grpc::ClientContext>& weak : contexts_) {
      if (std::shared_ptr<grpc::ClientContext> context = weak.lock()) {
        contexts.push_back(std::move(context));
      }
    }
    contexts_.clear();
    for (const auto& [endpoint, stream] : streams_) streams.push_back(stream);
    for (const std::weak_ptr<DownstreamStream>& weak : replaced_) {
      if (std::shared_ptr<DownstreamStream> stream = weak.lock()) streams.push_back(stream);
    }
    replaced_.clear();
  }
  // Outside `mu_`: gRPC may run a call's completion on this thread, which routes on.
  for (const auto& context : contexts) context->TryCancel();
  for (const auto& stream : streams) stream->Cancel();
}

bool CallScope::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

void CallScope::Register(const std::shared_ptr<grpc::ClientContext>& context) {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      contexts_.erase(
          std::remove_if(contexts_.begin(), contexts_.end(),
                         [](const std::weak_ptr<grpc::ClientContext>& c) { return c.expired(); }),
          contexts_.end());
      contexts_.push_back(context);
      return;
    }
  }
  context->TryCancel();  // before the call starts: it starts cancelled
}

std::shared_ptr<DownstreamStream> CallScope::StreamTo(
    const std::shared_ptr<Endpoint>& endpoint,
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::shared_ptr<DownstreamStream> replaced;  // closed outside `mu_`
  std::shared_ptr<DownstreamStream> opened;
  bool cancelled;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<DownstreamStream>& slot = streams_[endpoint.get()];
    if (slot != nullptr && slot->open()) return slot;
    replaced = std::move(slot);
    if (replaced != nullptr) {
      // It takes no new messages but may still wait for answers: a cancel must reach it too.
      replaced_.erase(
          std::remove_if(replaced_.begin(), replaced_.end(),
                         [](const std::weak_ptr<DownstreamStream>& s) { return s.expired(); }),
          replaced_.end());
      replaced_.push_back(replaced);
    }
    slot = DownstreamStream::Open(endpoint, metadata, options_.deadline);
    opened = slot;
    cancelled = cancelled_;
  }
  if (replaced != nullptr) replaced->Close();
  if (cancelled) opened->Cancel();
  return opened;
}

std::vector<std::shared_ptr<DownstreamStream>> CallScope::streams_for_test() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<DownstreamStream>> streams;
  for (const auto& [endpoint, stream] : streams_) streams.push_back(stream);
  return streams;
}

}  // namespace shoal::routing
