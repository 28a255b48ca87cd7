// Server-sent events for the HTTP gateway's streams (Jina's HTTP streaming): the sink that turns
// a stream's messages into `update` / `error` / `end` events, and the GET form's query string.
// Knows nothing of sockets: the HTTP session writes what the sink hands it.
#ifndef SHOAL_GATEWAY_HTTP_EVENTS_H_
#define SHOAL_GATEWAY_HTTP_EVENTS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "src/gateway/doc_stream.h"

namespace shoal::gateway {

// Thread-safe. Each message becomes an event (parsed and written as JSON on the caller's
// thread) handed to `post`; Unsent counts document events posted and not yet written (the
// session decrements `unsent` as it writes them).
class SseSink : public DocStreamSink {
 public:
  // `counted`: a document's event, counted in Unsent until written. `last`: the end event.
  using Post = std::function<void(std::string event, bool last, bool counted)>;
  SseSink(std::shared_ptr<std::atomic<size_t>> unsent, Post post)
      : unsent_(std::move(unsent)), post_(std::move(post)) {}

  void Send(grpc::ByteBuffer message) override;
  size_t Unsent() const override { return unsent_->load(); }
  void Finish(grpc::Status status) override;

 private:
  void Error(std::string_view message);

  const std::shared_ptr<std::atomic<size_t>> unsent_;
  const Post post_;
};

// `a=1&b=x%20y` as a JSON object of strings (Jina's GET form of a streaming endpoint's
// document), percent-decoded, `+` a space.
std::string QueryAsJson(std::string_view query);

// Whether a Deployment of the graph streams `endpoint` (GET /<endpoint> then streams).
bool Streamed(const Gateway& gateway, std::string_view endpoint);

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_HTTP_EVENTS_H_
