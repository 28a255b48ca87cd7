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

// Sends every request of `batcher` over one stream and feeds the responses to `collector`.
// Blocks until the stream is over. `where` prefixes errors ("posting to /x at host:port").
Status PostOverStream(jina::JinaRPC::Stub& stub, Batcher& batcher, const PostOptions& options,
                      Collector& collector, const std::string& where);

// The same with unary calls, retrying UNAVAILABLE and DEADLINE_EXCEEDED up to max_attempts.
Status PostUnary(jina::JinaSingleDataRequestRPC::Stub& stub, Batcher& batcher,
                 const PostOptions& options, Collector& collector, const std::string& where);

}  // namespace shoal::client

#endif  // SHOAL_CLIENT_TRANSPORT_H_
