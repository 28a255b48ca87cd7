// The receiving half of a Post, shared by the streaming and the unary transport: matches
// responses to requests, restores request order when asked, runs the user's callbacks, applies
// the error policy, gathers the returned docs and draws the progress bar.
#ifndef SHOAL_CLIENT_COLLECTOR_H_
#define SHOAL_CLIENT_COLLECTOR_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "jina.pb.h"
#include "shoal/client.h"
#include "shoal/doc.h"
#include "shoal/status.h"

namespace shoal::client {

// Runs on the thread that called Post only (callbacks therefore run there too, never on a gRPC
// thread). Thread-compatible.
class Collector {
 public:
  // `where` names the Post in errors, e.g. "posting to /search at 127.0.0.1:5000".
  Collector(const PostOptions& options, std::string where);
  ~Collector();

  // Records a request about to be sent; returns its index in send order.
  size_t Sent(const jina::DataRequestProto& request);
  // Handles the response to the in-flight request `request_id` : callbacks, docs,
  // error policy. An error means the Post must stop (an Executor error nobody handles).
  Status Receive(const std::string& request_id, std::unique_ptr<jina::DataRequestProto> response);

  size_t sent() const { return sent_; }
  size_t in_flight() const { return sent_ - received_; }
  // Finishes the progress bar and hands over the gathered docs.
  DocList TakeResults();

 private:
  Status Deliver(jina::DataRequestProto& response);
  void DrawProgress(bool last);

  // Constant after construction.
  const PostOptions& options_;
  const std::string where_;
  const bool collect_docs_;
  const bool progress_;
  const absl::Time start_;

  size_t sent_ = 0;
  size_t received_ = 0;
  size_t docs_received_ = 0;
  absl::flat_hash_map<std::string, size_t> in_flight_;  // request id -> index
  // With results_in_order: responses that arrived before an earlier one, by index.
  std::map<size_t, std::unique_ptr<jina::DataRequestProto>> early_;
  size_t next_to_deliver_ = 0;
  DocList results_;
  absl::Time last_drawn_ = absl::InfinitePast();
};

}  // namespace shoal::client

#endif  // SHOAL_CLIENT_COLLECTOR_H_
