// Gateway: per request, a Run walks the graph. Each node waits for all of its `needs`, then
// short-circuits an error, skips (unknown endpoint, target_executor), reduces a join, resolves
// Executor-specific parameters, and routes. Answers flow to successors as bytes.
#include "src/gateway/gateway.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "src/common/log.h"
#include "src/gateway/request_rewrite.h"
#include "src/gateway/target_pattern.h"

namespace shoal::gateway {
namespace {

constexpr char kDiscovery[] = "/jina.JinaDiscoverEndpointsRPC/endpoint_discovery";

routing::SendResult Failure(grpc::StatusCode code, std::string message) {
  routing::SendResult result;
  result.status = grpc::Status(code, std::move(message));
  return result;
}

}  // namespace

// One request's walk through the graph. Deletes itself when every node has completed.
class Gateway::Run {
 public:
  Run(Gateway* gateway, RequestHead head, Deadline deadline,
      absl::AnyInvocable<void(routing::SendResult)> done, std::shared_ptr<routing::CallScope> scope)
      : gateway_(gateway),
        head_(std::move(head)),
        deadline_(deadline),
        done_(std::move(done)),
        scope_(std::move(scope)),
        inputs_(gateway->nodes_.size()),
        unfinished_(gateway->nodes_.size() + 1) {
    {
      absl::MutexLock lock(&gateway_->runs_mu_);
      ++gateway_->live_runs_;
    }
    for (size_t n = 0; n < inputs_.size(); ++n) {
      size_t parts = std::max<size_t>(1, gateway->nodes_[n].needs.size());
      inputs_[n].parts.resize(parts);
      inputs_[n].missing = parts;
    }
    if (!head_.target_executor.empty()) {
      StatusOr<std::unique_ptr<TargetPattern>> target =
          TargetPattern::Compile(head_.target_executor);
      if (target.ok()) {
        target_ = std::move(target).value();
      } else {
        bad_target_ = target.status();
      }
    }
  }

  ~Run() {
    absl::MutexLock lock(&gateway_->runs_mu_);
    --gateway_->live_runs_;
  }

  void Start(grpc::ByteBuffer request) {
    if (!bad_target_.ok()) {
      done_(Failure(grpc::StatusCode::INVALID_ARGUMENT, std::string(bad_target_.message())));
      delete this;
      return;
    }
    routing::SendResult input;
    input.response = std::move(request);
    for (size_t origin : gateway_->origins_) Deliver(origin, 0, input);
    Release();
  }

 private:
  struct Inputs {
    std::vector<std::optional<routing::SendResult>> parts;
    size_t missing = 0;
  };

  void Deliver(size_t node, size_t slot, const routing::SendResult& input) {
    std::vector<std::optional<routing::SendResult>> parts;
    {
      absl::MutexLock lock(&mu_);
      Inputs& inputs = inputs_[node];
      inputs.parts[slot] = input;
      if (--inputs.missing > 0) return;
      parts = std::move(inputs.parts);
    }
    Execute(node, std::move(parts));
  }

  void Execute(size_t node, std::vector<std::optional<routing::SendResult>> parts) {
    for (std::optional<routing::SendResult>& part : parts) {
      if (!part->status.ok() || part->is_error()) {
        Complete(node, std::move(*part));  // an earlier failure passes through untouched
        return;
      }
    }
    const GraphNode& graph_node = gateway_->nodes_[node];
    if (!gateway_->Handles(node, head_.endpoint)) {
      Complete(node, std::move(*parts.back()));  // Jina: the last part, unchanged, unreduced
      return;
    }
    grpc::ByteBuffer request;
    const char* method = routing::kProcessSingleData;
    if (parts.size() == 1) {
      request = std::move(parts[0]->response);
    } else {
      std::vector<const grpc::ByteBuffer*> answers;
      for (auto& part : parts) answers.push_back(&part->response);
      if (graph_node.no_reduce) {
        request = PackParts(answers);
        method = routing::kProcessData;
      } else {
        StatusOr<grpc::ByteBuffer> reduced = routing::ReduceResponses(answers);
        if (!reduced.ok()) {
          Complete(node, Failure(grpc::StatusCode::INTERNAL,
                                 absl::StrCat("joining the parts for '", graph_node.name,
                                              "': ", reduced.status().message())));
          return;
        }
        request = std::move(reduced).value();
      }
    }
    if (target_ != nullptr && !target_->Matches(graph_node.name)) {
      routing::SendResult passed;
      passed.response = std::move(request);
      Complete(node, std::move(passed));
      return;
    }
    if (head_.specific_parameters != nullptr && method == routing::kProcessSingleData) {
      StatusOr<google::protobuf::Struct> current = ReadParameters(request);
      StatusOr<grpc::ByteBuffer> rewritten =
          current.ok() ? WithParameters(request, NodeParameters(*head_.specific_parameters,
                                                                graph_node.name, *current))
                       : StatusOr<grpc::ByteBuffer>(current.status());
      if (!rewritten.ok()) {
        Complete(node, Failure(grpc::StatusCode::INVALID_ARGUMENT,
                               std::string(rewritten.status().message())));
        return;
      }
      request = std::move(rewritten).value();
    }
    graph_node.router->Route(
        head_.endpoint, std::move(request), deadline_,
        [this, node](routing::SendResult result) {
          if (!result.status.ok()) {
            result.status = grpc::Status(result.status.error_code(),
                                         absl::StrCat("Deployment '", gateway_->nodes_[node].name,
                                                      "': ", result.status.error_message()));
          }
          Complete(node, std::move(result));
        },
        method, scope_);
  }

  void Complete(size_t node, routing::SendResult result) {
    for (const auto& [successor, slot] : gateway_->successors_[node]) {
      Deliver(successor, slot, result);
    }
    if (gateway_->end_ == node) done_(std::move(result));
    Release();
  }

  void Release() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --unfinished_ == 0;
    }
    if (last) delete this;
  }

  Gateway* const gateway_;
  const RequestHead head_;
  const Deadline deadline_;
  absl::AnyInvocable<void(routing::SendResult)> done_;
  const std::shared_ptr<routing::CallScope> scope_;  // null: none
  std::unique_ptr<TargetPattern> target_;            // null: every node
  Status bad_target_;                                // a target_executor that cannot be compiled
  absl::Mutex mu_;
  std::vector<Inputs> inputs_ ABSL_GUARDED_BY(mu_);
  size_t unfinished_ ABSL_GUARDED_BY(mu_);  // nodes not completed, plus Start's own hold
};

Gateway::Gateway(std::vector<GraphNode> nodes, std::optional<size_t> end)
    : nodes_(std::move(nodes)), end_(end), successors_(nodes_.size()) {
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n].needs.empty()) origins_.push_back(n);
    for (size_t slot = 0; slot < nodes_[n].needs.size(); ++slot) {
      successors_[nodes_[n].needs[slot]].emplace_back(n, slot);
    }
  }
  absl::MutexLock lock(&mu_);
  endpoints_.resize(nodes_.size());
}

namespace {

std::vector<GraphNode> Chain(const std::vector<routing::DeploymentRouter*>& routers) {
  std::vector<GraphNode> nodes;
  for (size_t i = 0; i < routers.size(); ++i) {
    GraphNode node{.name = routers[i]->name(), .router = routers[i]};
    if (i > 0) node.needs = {i - 1};
    nodes.push_back(std::move(node));
  }
  return nodes;
}

}  // namespace

Gateway::Gateway(std::vector<routing::DeploymentRouter*> chain)
    : Gateway(Chain(chain),
              chain.empty() ? std::nullopt : std::optional<size_t>(chain.size() - 1)) {}

std::shared_ptr<void> Gateway::Hold() {
  {
    absl::MutexLock lock(&runs_mu_);
    ++live_runs_;
  }
  return std::shared_ptr<void>(static_cast<void*>(this), [](void* gateway) {
    Gateway* self = static_cast<Gateway*>(gateway);
    absl::MutexLock lock(&self->runs_mu_);
    --self->live_runs_;
  });
}

bool Gateway::Drain(absl::Duration timeout) {
  absl::MutexLock lock(&runs_mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(runs_mu_) { return live_runs_ == 0; };
  return runs_mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

bool Gateway::Handles(size_t node, const std::string& endpoint) const {
  absl::MutexLock lock(&mu_);
  const std::optional<jina::EndpointsProto>& known = endpoints_[node];
  if (!known.has_value()) return true;
  for (const std::string& e : known->endpoints()) {
    if (e == endpoint || e == "/default") return true;
  }
  return false;
}

bool Gateway::Streams(size_t node, const std::string& endpoint) const {
  absl::MutexLock lock(&mu_);
  const std::optional<jina::EndpointsProto>& known = endpoints_[node];
  if (!known.has_value()) return false;
  const auto& schemas = known->schemas().fields();
  auto schema = schemas.find(endpoint);
  if (schema == schemas.end()) schema = schemas.find("/default");
  if (schema == schemas.end()) return false;
  auto flag = schema->second.struct_value().fields().find("is_generator");
  return flag != schema->second.struct_value().fields().end() && flag->second.bool_value();
}

bool Gateway::KnownEndpoint(const std::string& endpoint) const {
  absl::MutexLock lock(&mu_);
  bool listed = false;
  for (const std::optional<jina::EndpointsProto>& known : endpoints_) {
    if (!known.has_value()) return false;
    for (const std::string& name : known->endpoints()) listed = listed || name == endpoint;
  }
  return listed;
}

std::unique_ptr<Gateway> Gateway::Part(const std::vector<size_t>& keep, size_t end) const {
  std::vector<std::optional<size_t>> index(nodes_.size());
  for (size_t i = 0; i < keep.size(); ++i) index[keep[i]] = i;
  std::vector<GraphNode> nodes;
  for (size_t n : keep) {
    GraphNode node = nodes_[n];
    node.needs.clear();
    for (size_t need : nodes_[n].needs) {
      if (index[need].has_value()) node.needs.push_back(*index[need]);
    }
    nodes.push_back(std::move(node));
  }
  auto part = std::make_unique<Gateway>(std::move(nodes), index[end]);
  absl::MutexLock mine(&mu_);
  absl::MutexLock theirs(&part->mu_);
  for (size_t i = 0; i < keep.size(); ++i) part->endpoints_[i] = endpoints_[keep[i]];
  return part;
}

void Gateway::Discover(std::chrono::milliseconds timeout) {
  for (size_t n = 0; n < nodes_.size(); ++n) {
    routing::ReplicaSet& set = nodes_[n].router->shard(0);
    routing::SendOptions options;
    options.method = kDiscovery;
    options.attempts = routing::AttemptsFor(-1, set.size());
    options.timeout = timeout;
    absl::Notification done;
    routing::SendResult result;
    grpc::Slice empty;
    routing::Send(set, grpc::ByteBuffer(&empty, 1), std::move(options), [&](routing::SendResult r) {
      result = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    jina::EndpointsProto endpoints;
    grpc::Slice slice;
    if (!result.status.ok() || !result.response.DumpToSingleSlice(&slice).ok() ||
        !endpoints.ParseFromArray(slice.begin(), static_cast<int>(slice.size()))) {
      SHOAL_LOG_WARNING("endpoint discovery of '%s' failed (%s): it gets every request",
                        nodes_[n].name, result.status.error_message());
      continue;
    }
    absl::MutexLock lock(&mu_);
    endpoints_[n] = std::move(endpoints);
  }
}

void Gateway::Process(grpc::ByteBuffer request, const RequestHead& head, Deadline deadline,
                      absl::AnyInvocable<void(routing::SendResult)> done,
                      std::shared_ptr<routing::CallScope> scope) {
  if (!end_.has_value()) {  // no Executors: the request is echoed back, as in Jina
    routing::SendResult echo;
    echo.response = std::move(request);
    done(std::move(echo));
    return;
  }
  (new Run(this, head, deadline, std::move(done), std::move(scope)))->Start(std::move(request));
}

void Gateway::ProcessParts(grpc::ByteBuffer parts, Deadline deadline,
                           absl::AnyInvocable<void(routing::SendResult)> done,
                           const std::shared_ptr<routing::CallScope>& scope) {
  if (nodes_.size() != 1) {
    done(Failure(grpc::StatusCode::UNIMPLEMENTED,
                 "process_data is served by a single-Deployment gateway only"));
    return;
  }
  nodes_[0].router->Route("", std::move(parts), deadline, std::move(done), routing::kProcessData,
                          scope);
}

void Gateway::DiscoverEndpoints(absl::AnyInvocable<void(StatusOr<jina::EndpointsProto>)> done) {
  jina::EndpointsProto merged;
  std::set<std::string> endpoints, writes;
  Status unknown;
  {
    absl::MutexLock lock(&mu_);
    for (size_t n = 0; n < nodes_.size() && unknown.ok(); ++n) {
      if (!endpoints_[n].has_value()) {
        unknown =
            absl::UnavailableError(absl::StrCat("the endpoints of Deployment '", nodes_[n].name,
                                                "' are unknown: its replicas did not answer"));
        break;
      }
      for (const std::string& e : endpoints_[n]->endpoints()) {
        if (endpoints.insert(e).second) merged.add_endpoints(e);
      }
      for (const std::string& e : endpoints_[n]->write_endpoints()) {
        if (writes.insert(e).second) merged.add_write_endpoints(e);
      }
      for (const auto& [key, value] : endpoints_[n]->schemas().fields()) {
        (*merged.mutable_schemas()->mutable_fields())[key] = value;
      }
    }
  }
  if (!unknown.ok()) {
    done(unknown);
    return;
  }
  done(std::move(merged));
}

Status Gateway::Ready() const {
  for (const GraphNode& node : nodes_) {
    for (size_t s = 0; s < node.router->num_shards(); ++s) {
      bool any = false;
      for (const routing::ReplicaStats& r : node.router->shard(s).Stats()) any |= r.healthy;
      if (!any) {
        return absl::UnavailableError(absl::StrCat("Deployment '", node.name, "' shard ", s,
                                                   " has no healthy replica (",
                                                   node.router->shard(s).Describe(), ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace shoal::gateway
