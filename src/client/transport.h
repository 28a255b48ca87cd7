// The two ways a Post reaches the server: one JinaRPC/Call bidi stream, or one unary
// JinaSingleDataRequestRPC/process_single_data call per request. Both use gRPC's callback API
// and run the Post's own logic (batching, callbacks) on the calling thread.
#ifndef SHOAL_CLIENT_TRANSPORT_H_
#define SHOAL_CLIENT_TRANSPORT_H_

#include <string>

#include "jina.grpc.pb.h"
#include "shoal/client.h"
#include "shoal/status.h"
#include "src/client/batcher.h"
#include "src/client/collector.h"

namespace shoal::client {

// Requests in flight when PostOptions::prefetch is 0 (Jina's gateway default).
inline constexpr size_t kDefaultPrefetch = 1000;

// The server's error message, with what to do when it refused a request for its size (gRPC's
// own "Received message larger than max (N vs. LIMIT)" says neither whose limit it is nor how
// to change it).
inline std::string ServerMessage(const grpc::Status& status) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
      message.find("Received message larger than max") != std::string::npos) {
    message +=
        " bytes: the server's limit on a request's size; send fewer documents per request "
        "(request_size), or raise the server's grpc_server_options: "
        "grpc.max_receive_message_length (shoal executor|flow|gateway --max-message-size)";
  }
  return message;
}

// Sends every request of `batcher` over one stream and feeds the responses to `collector`.
// Blocks until the stream is over. `where` prefixes errors ("posting to /x at host:port").
Status PostOverStream(jina::JinaRPC::Stub& stub, Batcher& batcher, const PostOptions& options,
                      Collector& collector, const std::string& where);

// The same with unary calls, retrying UNAVAILABLE and DEADLINE_EXCEEDED up to max_attempts.
Status PostUnary(jina::JinaSingleDataRequestRPC::Stub& stub, Batcher& batcher,
                 const PostOptions& options, Collector& collector, const std::string& where);

// Calls stream_doc and hands each document to `on_doc` as it arrives (stream_doc.cc).
Status StreamDoc(jina::JinaSingleDocumentRequestRPC::Stub& stub, std::string_view on,
                 const Doc& input, const StreamDocCallback& on_doc, const StreamDocOptions& options,
                 const std::string& where);

}  // namespace shoal::client

#endif  // SHOAL_CLIENT_TRANSPORT_H_
