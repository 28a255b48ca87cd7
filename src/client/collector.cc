// Response handling common to both transports of a Post.
#include "src/client/collector.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "docarray.pb.h"
#include "src/common/log.h"

namespace shoal::client {
namespace {

// Jina writes docs; docarray's to_bytes() form is accepted too, and turned into docs once here
// so that every view of the response sees the same list.
void NormaliseDocs(jina::DataRequestProto& response) {
  auto* data = response.mutable_data();
  if (data->has_docs_bytes()) {
    docarray::DocListProto docs;
    if (docs.ParseFromString(data->docs_bytes())) {
      *data->mutable_docs() = std::move(docs);
    } else {
      data->mutable_docs();
    }
  }
}

}  // namespace

Collector::Collector(const PostOptions& options, std::string where)
    : options_(options),
      where_(std::move(where)),
      collect_docs_(!options.on_done && !options.on_always),
      progress_(options.show_progress && isatty(STDERR_FILENO) == 1),
      start_(absl::Now()) {}

Collector::~Collector() = default;

size_t Collector::Sent(const jina::DataRequestProto& request) {
  size_t index = sent_++;
  in_flight_[request.header().request_id()] = index;
  return index;
}

Status Collector::Receive(const std::string& request_id,
                          std::unique_ptr<jina::DataRequestProto> response) {
  auto it = in_flight_.find(request_id);
  if (it == in_flight_.end()) {
    return absl::InternalError(
        absl::StrCat(where_, ": response to unknown request id '", request_id, "'"));
  }
  size_t index = it->second;
  in_flight_.erase(it);
  ++received_;
  NormaliseDocs(*response);
  docs_received_ += static_cast<size_t>(response->data().docs().docs_size());
  if (progress_) DrawProgress(false);
  if (!options_.results_in_order) return Deliver(*response);
  early_[index] = std::move(response);
  while (!early_.empty() && early_.begin()->first == next_to_deliver_) {
    std::unique_ptr<jina::DataRequestProto> next = std::move(early_.begin()->second);
    early_.erase(early_.begin());
    ++next_to_deliver_;
    SHOAL_RETURN_IF_ERROR(Deliver(*next));
  }
  return absl::OkStatus();
}

Status Collector::Deliver(jina::DataRequestProto& proto) {
  Response response(&proto);
  if (response.ok()) {
    if (options_.on_done) options_.on_done(response);
  } else if (options_.on_error) {
    options_.on_error(response);
  } else if (options_.continue_on_error) {
    SHOAL_LOG_WARNING("%s: request %s failed: %s: %s", where_, std::string(response.request_id()),
                      std::string(response.exception_name()), std::string(response.error()));
  } else {
    return absl::UnknownError(absl::StrCat(
        where_, ": Executor error in request ", std::string(response.request_id()), ": ",
        std::string(response.exception_name()), ": ", std::string(response.error())));
  }
  if (options_.on_always) options_.on_always(response);
  if (collect_docs_) results_.Extend(response.docs());
  return absl::OkStatus();
}

void Collector::DrawProgress(bool last) {
  absl::Time now = absl::Now();
  if (!last && now - last_drawn_ < absl::Milliseconds(100)) return;
  last_drawn_ = now;
  double seconds = absl::ToDoubleSeconds(now - start_);
  std::string line = absl::StrFormat(
      "\r%d/%d requests  %d docs  %.1fs  %.0f docs/s%s", received_, sent_, docs_received_, seconds,
      seconds > 0 ? docs_received_ / seconds : 0.0, last ? "\n" : "");
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

DocList Collector::TakeResults() {
  if (progress_ && received_ > 0) DrawProgress(true);
  return std::move(results_);
}

}  // namespace shoal::client
