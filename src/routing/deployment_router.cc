// DeploymentRouter: shard choice, ALL fan-out, and the reduce of shard answers.
#include "src/routing/deployment_router.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"
#include "jina.pb.h"
#include "src/common/log.h"
#include "src/doc/reduce.h"

namespace shoal::routing {
namespace {

bool ParseBuffer(const grpc::ByteBuffer& buffer, google::protobuf::Message& message) {
  grpc::Slice slice;
  if (!buffer.DumpToSingleSlice(&slice).ok()) return false;
  return message.ParseFromArray(slice.begin(), static_cast<int>(slice.size()));
}

grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

// Collects the answers of an ALL fan-out; the last one to arrive reduces and answers.
struct FanOut {
  explicit FanOut(size_t n, absl::AnyInvocable<void(SendResult)> done)
      : results(n), remaining(n), done(std::move(done)) {}
  absl::Mutex mu;
  std::vector<SendResult> results;
  size_t remaining ABSL_GUARDED_BY(mu);
  absl::AnyInvocable<void(SendResult)> done;
};

}  // namespace

DeploymentRouter::DeploymentRouter(Options options, std::vector<std::unique_ptr<ReplicaSet>> shards)
    : name_(std::move(options.name)),
      retries_(options.retries),
      timeout_send_ms_(options.timeout_send.has_value() ? options.timeout_send->count() : 0),
      polling_(std::move(options.polling)),
      shards_(std::move(shards)) {}

void DeploymentRouter::SetTimeoutSend(std::optional<std::chrono::milliseconds> timeout) {
  timeout_send_ms_.store(timeout.has_value() ? timeout->count() : 0, std::memory_order_relaxed);
}

std::optional<std::chrono::milliseconds> DeploymentRouter::timeout_send() const {
  const int64_t ms = timeout_send_ms_.load(std::memory_order_relaxed);
  if (ms <= 0) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

void DeploymentRouter::SetPolling(PollingTable polling) {
  absl::MutexLock lock(&polling_mu_);
  polling_ = std::move(polling);
}

Polling DeploymentRouter::PollingFor(std::string_view endpoint) const {
  absl::ReaderMutexLock lock(&polling_mu_);
  return polling_.For(endpoint);
}

SendOptions DeploymentRouter::OptionsFor(
    const ReplicaSet& set, std::optional<std::chrono::system_clock::time_point> deadline,
    const char* method, std::string_view endpoint, const std::shared_ptr<CallScope>& scope) const {
  SendOptions send;
  send.method = method;
  send.endpoint = std::string(endpoint);
  send.attempts = AttemptsFor(retries(), set.size());
  send.timeout = timeout_send();
  send.deadline = deadline;
  send.scope = scope;
  return send;
}

void DeploymentRouter::Route(std::string_view endpoint, grpc::ByteBuffer request,
                             std::optional<std::chrono::system_clock::time_point> deadline,
                             absl::AnyInvocable<void(SendResult)> done, const char* method,
                             const std::shared_ptr<CallScope>& scope) {
  if (shards_.size() > 1 && PollingFor(endpoint) == Polling::kAll) {
    RouteAll(endpoint, std::move(request), deadline, std::move(done), method, scope);
    return;
  }
  ReplicaSet& set = *shards_[next_shard_.fetch_add(1, std::memory_order_relaxed) % shards_.size()];
  Send(set, std::move(request), OptionsFor(set, deadline, method, endpoint, scope),
       std::move(done));
}

void DeploymentRouter::RouteAll(std::string_view endpoint, grpc::ByteBuffer request,
                                std::optional<std::chrono::system_clock::time_point> deadline,
                                absl::AnyInvocable<void(SendResult)> done, const char* method,
                                const std::shared_ptr<CallScope>& scope) {
  auto* fan = new FanOut(shards_.size(), std::move(done));
  for (size_t s = 0; s < shards_.size(); ++s) {
    Send(*shards_[s], request, OptionsFor(*shards_[s], deadline, method, endpoint, scope),
         [this, fan, s](SendResult result) {
           fan->results[s] = std::move(result);
           {
             absl::MutexLock lock(&fan->mu);
             if (--fan->remaining > 0) return;
           }
           std::vector<const grpc::ByteBuffer*> answers;
           SendResult merged;
           int failed = 0;
           for (size_t i = 0; i < fan->results.size(); ++i) {
             SendResult& part = fan->results[i];
             if (!part.status.ok()) {
               ++failed;
               SHOAL_LOG_WARNING("%s: shard %d failed and is left out: %s", name_,
                                 static_cast<int>(i), part.status.error_message());
               if (merged.status.ok() && answers.empty()) merged.status = part.status;
               continue;
             }
             answers.push_back(&part.response);
             for (auto& [key, value] : part.trailing) merged.trailing.emplace(key, value);
             merged.attempts += part.attempts;
           }
           // An Executor error in a shard is the answer (its header carries the error), as
           // the error short-circuits everything downstream.
           for (SendResult& part : fan->results) {
             if (part.status.ok() && part.is_error()) {
               auto finish = std::move(fan->done);
               SendResult error = std::move(part);
               delete fan;
               finish(std::move(error));
               return;
             }
           }
           if (!answers.empty()) {
             merged.status = grpc::Status::OK;
             StatusOr<grpc::ByteBuffer> reduced = ReduceResponses(answers);
             if (reduced.ok()) {
               merged.response = std::move(reduced).value();
             } else {
               merged.status = grpc::Status(grpc::StatusCode::INTERNAL,
                                            std::string(reduced.status().message()));
             }
           }
           merged.trailing.erase("total_shards");
           merged.trailing.erase("failed_shards");
           merged.trailing.emplace("total_shards", std::to_string(fan->results.size()));
           merged.trailing.emplace("failed_shards", std::to_string(failed));
           auto finish = std::move(fan->done);
           delete fan;
           finish(std::move(merged));
         });
  }
}

StatusOr<grpc::ByteBuffer> ReduceResponses(const std::vector<const grpc::ByteBuffer*>& answers) {
  google::protobuf::Arena arena;
  std::vector<jina::DataRequestProto*> parsed;
  for (const grpc::ByteBuffer* answer : answers) {
    auto* message = google::protobuf::Arena::CreateMessage<jina::DataRequestProto>(&arena);
    if (!ParseBuffer(*answer, *message)) {
      return absl::InternalError("an answer to reduce is not a DataRequestProto");
    }
    if (message->data().documents_case() == jina::DataRequestProto::DataContentProto::kDocsBytes) {
      std::string bytes = std::move(*message->mutable_data()->mutable_docs_bytes());
      if (!message->mutable_data()->mutable_docs()->ParseFromString(bytes)) {
        return absl::InternalError("an answer's docs_bytes is not a DocListProto");
      }
    }
    parsed.push_back(message);
  }
  if (parsed.empty()) return absl::InternalError("nothing to reduce");
  jina::DataRequestProto* base = parsed[0];
  for (jina::DataRequestProto* p : parsed) {
    if (p->header().status().code() == jina::StatusProto::SUCCESS) {
      base = p;
      break;
    }
  }
  std::vector<docarray::DocListProto*> lists;
  lists.push_back(base->mutable_data()->mutable_docs());
  for (jina::DataRequestProto* p : parsed) {
    if (p != base) lists.push_back(p->mutable_data()->mutable_docs());
  }
  doc::ReduceDocLists(lists);
  // `__results__` of every part, merged (dict update).
  google::protobuf::Struct& results =
      *(*base->mutable_parameters()->mutable_fields())["__results__"].mutable_struct_value();
  for (jina::DataRequestProto* p : parsed) {
    if (p == base) continue;
    auto it = p->parameters().fields().find("__results__");
    if (it == p->parameters().fields().end() || !it->second.has_struct_value()) continue;
    for (const auto& [key, value] : it->second.struct_value().fields()) {
      (*results.mutable_fields())[key] = value;
    }
  }
  return Serialize(*base);
}

}  // namespace shoal::routing
