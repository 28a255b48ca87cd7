// Gateway: walks the chain node by node with the answer bytes of the previous node.
#include "src/gateway/gateway.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/common/strings.h"

namespace shoal::gateway {
namespace {

constexpr char kDiscovery[] = "/jina.JinaDiscoverEndpointsRPC/endpoint_discovery";

}  // namespace

Gateway::Gateway(std::vector<routing::DeploymentRouter*> chain) : chain_(std::move(chain)) {}

void Gateway::Process(grpc::ByteBuffer request, const RequestHead& head, Deadline deadline,
                      absl::AnyInvocable<void(routing::SendResult)> done) {
  if (chain_.empty()) {  // no Executors: the request is echoed back, as in Jina
    routing::SendResult echo;
    echo.response = std::move(request);
    done(std::move(echo));
    return;
  }
  Step(0, std::move(request), head.endpoint, deadline, std::move(done));
}

void Gateway::Step(size_t node, grpc::ByteBuffer request, std::string endpoint,
                   Deadline deadline, absl::AnyInvocable<void(routing::SendResult)> done) {
  routing::DeploymentRouter* router = chain_[node];
  router->Route(endpoint, std::move(request), deadline,
                [this, node, endpoint, deadline, done = std::move(done)](
                    routing::SendResult result) mutable {
                  if (!result.status.ok()) {
                    result.status = grpc::Status(
                        result.status.error_code(),
                        absl::StrCat("Deployment '", chain_[node]->name(),
                                     "': ", result.status.error_message()));
                  }
                  if (!result.status.ok() || result.is_error() || node + 1 == chain_.size()) {
                    done(std::move(result));
                    return;
                  }
                  Step(node + 1, std::move(result.response), std::move(endpoint), deadline,
                       std::move(done));
                });
}

void Gateway::ProcessParts(grpc::ByteBuffer parts, Deadline deadline,
                           absl::AnyInvocable<void(routing::SendResult)> done) {
  if (chain_.size() != 1) {
    routing::SendResult result;
    result.status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 "process_data is served by a single-Deployment gateway only");
    done(std::move(result));
    return;
  }
  routing::ReplicaSet& set = chain_[0]->shard(0);
  routing::SendOptions options;
  options.method = routing::kProcessData;
  options.attempts = routing::AttemptsFor(-1, set.size());
  options.deadline = deadline;
  routing::Send(set, std::move(parts), std::move(options), std::move(done));
}

void Gateway::DiscoverEndpoints(
    absl::AnyInvocable<void(StatusOr<jina::EndpointsProto>)> done) {
  struct Gather {
    absl::Mutex mu;
    size_t remaining;
    jina::EndpointsProto merged;
    Status error;
    absl::AnyInvocable<void(StatusOr<jina::EndpointsProto>)> done;
  };
  if (chain_.empty()) {
    done(jina::EndpointsProto());
    return;
  }
  auto* gather = new Gather{.remaining = chain_.size(), .done = std::move(done)};
  for (routing::DeploymentRouter* router : chain_) {
    routing::SendOptions options;
    options.method = kDiscovery;
    options.attempts = routing::AttemptsFor(-1, router->shard(0).size());
    options.timeout = std::chrono::seconds(10);
    grpc::Slice empty;
    routing::Send(router->shard(0), grpc::ByteBuffer(&empty, 1), std::move(options),
                  [gather, name = router->name()](routing::SendResult result) {
                    jina::EndpointsProto endpoints;
                    grpc::Slice slice;
                    bool parsed = result.status.ok() &&
                                  result.response.DumpToSingleSlice(&slice).ok() &&
                                  endpoints.ParseFromArray(slice.begin(),
                                                           static_cast<int>(slice.size()));
                    bool last;
                    {
                      absl::MutexLock lock(&gather->mu);
                      if (!parsed && gather->error.ok()) {
                        gather->error = absl::UnavailableError(absl::StrCat(
                            "endpoint discovery of Deployment '", name,
                            "' failed: ", result.status.error_message()));
                      }
                      for (const std::string& e : endpoints.endpoints()) {
                        bool seen = false;
                        for (const std::string& m : gather->merged.endpoints()) seen |= m == e;
                        if (!seen) gather->merged.add_endpoints(e);
                      }
                      for (const std::string& e : endpoints.write_endpoints()) {
                        gather->merged.add_write_endpoints(e);
                      }
                      for (const auto& [key, value] : endpoints.schemas().fields()) {
                        (*gather->merged.mutable_schemas()->mutable_fields())[key] = value;
                      }
                      last = --gather->remaining == 0;
                    }
                    if (!last) return;
                    auto finish = std::move(gather->done);
                    StatusOr<jina::EndpointsProto> out =
                        gather->error.ok() ? StatusOr<jina::EndpointsProto>(gather->merged)
                                           : StatusOr<jina::EndpointsProto>(gather->error);
                    delete gather;
                    finish(std::move(out));
                  });
  }
}

Status Gateway::Ready() const {
  for (routing::DeploymentRouter* router : chain_) {
    for (size_t s = 0; s < router->num_shards(); ++s) {
      bool any = false;
      for (const routing::ReplicaStats& r : router->shard(s).Stats()) any |= r.healthy;
      if (!any) {
        return absl::UnavailableError(absl::StrCat("Deployment '", router->name(), "' shard ", s,
                                                   " has no healthy replica (",
                                                   router->shard(s).Describe(), ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace shoal::gateway
