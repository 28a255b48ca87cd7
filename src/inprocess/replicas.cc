// ServedReplicas: the Executor loaded and served per replica in this process, and the router's
// direct way to each.
#include "src/inprocess/replicas.h"

#include <google/protobuf/util/json_util.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/task_thread.h"
#include "src/executor/loader.h"
#include "src/orchestrator/local_deployment.h"
#include "src/orchestrator/router_builder.h"
#include "src/replica/batcher.h"
#include "src/replica/stateful.h"  // ReplicaServer::Start destroys its default argument
#include "src/routing/local_replica.h"
#include "src/rpc/status.h"

namespace shoal::inprocess {
namespace {

// The router's way to one replica: its unary data calls, straight to the replica's server. An
// answer made on the executor thread goes on (to the next node, to the client) from `answers`,
// so that the Executor starts its next request at once; one made inline, on the caller's thread,
// goes on from there.
class Direct : public routing::LocalReplica {
 public:
  // Both outlive every call: ServedReplicas::Stop waits for the replicas' direct calls, then
  // drains `answers`, and a LocalDeployment destroys its replicas after its router.
  Direct(replica::ReplicaServer* server, TaskThread* answers)
      : server_(server), answers_(answers) {}

  void Call(const grpc::ByteBuffer& request, std::chrono::system_clock::time_point deadline,
            std::function<bool()> gone, Done done) override {
    server_->CallDirect(
        request, deadline, std::move(gone),
        [answers = answers_, caller = std::this_thread::get_id(),
         done = std::move(done)](replica::ReplicaServer::DirectAnswer answer) mutable {
          Answer routed;
          routed.status = answer.status.ok() ? grpc::Status::OK : rpc::ToGrpc(answer.status);
          routed.response.Swap(&answer.response);
          routed.is_error = answer.executor_failed;
          if (std::this_thread::get_id() == caller) {
            done(std::move(routed));
            return;
          }
          auto shared =
              std::make_shared<std::pair<Done, Answer>>(std::move(done), std::move(routed));
          // Not posted only while stopping, after every answer was posted: it goes on here.
          if (!answers->Post([shared] { shared->first(std::move(shared->second)); })) {
            shared->first(std::move(shared->second));
          }
        });
  }

 private:
  replica::ReplicaServer* const server_;
  TaskThread* const answers_;
};

Status Refuse(const config::DeploymentSpec& spec, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(orchestrator::WhereWritten(spec, "inprocess"),
                                                 "Deployment '", spec.name, "': inprocess: true ",
                                                 why));
}

}  // namespace

StatusOr<std::unique_ptr<orchestrator::InProcessReplicas>> ServedReplicas::Start(
    const config::DeploymentSpec& spec, const std::string& host,
    const std::function<std::string(int, int)>& workspace_of) {
  if (spec.stateful || spec.external) {
    return Refuse(spec, "runs local stateless Executors only");
  }
  std::string uses_with_json;
  if (!google::protobuf::util::MessageToJsonString(spec.uses_with, &uses_with_json).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(orchestrator::WhereWritten(spec, "uses_with"),
                                                   "Deployment '", spec.name,
                                                   "': uses_with is not JSON-able"));
  }
  std::string error;
  std::optional<Params> uses_with = Params::FromJson(uses_with_json, &error);
  if (!uses_with.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(orchestrator::WhereWritten(spec, "uses_with"),
                                                   "Deployment '", spec.name,
                                                   "': uses_with: ", error));
  }
  std::unique_ptr<ServedReplicas> replicas(new ServedReplicas());
  replicas->answers_ = std::make_unique<TaskThread>(spec.name + "/answers");
  replicas->addresses_.resize(spec.shards);
  for (int s = 0; s < spec.shards; ++s) {
    for (int r = 0; r < spec.replicas; ++r) {
      const std::string name = orchestrator::ReplicaName(spec.name, spec.shards, s, r);
      const std::string workspace = workspace_of(s, r);
      StatusOr<executor::LoadedExecutor> loaded = executor::LoadExecutor(
          spec.uses, *uses_with, {.name = name, .workspace = workspace, .native_only = true});
      if (!loaded.ok()) {
        return Status(loaded.status().code(),
                      absl::StrCat("starting replica '", name, "': ", loaded.status().message()));
      }
      SHOAL_ASSIGN_OR_RETURN(
          replica::BatchingTable batching,
          replica::ResolveBatching(*loaded->cls, {.yaml = loaded->dynamic_batching,
                                                  .yaml_source = loaded->dynamic_batching_source,
                                                  .deployment = spec.uses_dynamic_batching}));
      auto runtime = std::make_unique<replica::ReplicaRuntime>(
          std::move(loaded).value(),
          replica::ReplicaRuntime::Options{
              .name = name,
              .workspace = workspace,
              .max_queued = static_cast<size_t>(std::max(spec.max_queued_requests, 0))});
      replica::ReplicaServer::Options options{
          .host = host,
          .port = 0,
          .max_docs_per_request =
              spec.max_docs_per_request.value_or(replica::kDefaultMaxDocsPerRequest),
          .tls = spec.internal_tls,
          .auth_token = spec.auth_token,
          .reflection = spec.reflection,
          .batching = std::move(batching)};
      if (spec.grpc_server_limits.max_receive_message_bytes.has_value()) {
        options.max_receive_message_bytes = *spec.grpc_server_limits.max_receive_message_bytes;
      }
      if (spec.grpc_server_limits.max_send_message_bytes.has_value()) {
        options.max_send_message_bytes = *spec.grpc_server_limits.max_send_message_bytes;
      }
      StatusOr<std::unique_ptr<replica::ReplicaServer>> server =
          replica::ReplicaServer::Start(std::move(runtime), options);
      if (!server.ok()) {
        return Status(server.status().code(),
                      absl::StrCat("starting replica '", name, "': ", server.status().message()));
      }
      replicas->addresses_[s].push_back(routing::Address{
          .host = host,
          .port = (*server)->port(),
          .tls = spec.internal_tls.enabled(),
          .name = name,
          .local = std::make_shared<Direct>(server->get(), replicas->answers_.get())});
      replicas->servers_.push_back(std::move(server).value());
    }
  }
  return replicas;
}

void ServedReplicas::Stop(absl::Duration grace) {
  // In parallel: each drain waits up to `grace` for its own calls.
  std::vector<std::thread> stoppers;
  for (auto& server : servers_) {
    stoppers.emplace_back([&server, grace] { server->Shutdown(grace); });
  }
  for (std::thread& stopper : stoppers) stopper.join();
  // Every direct call was answered; the answers posted go on before this returns.
  if (answers_ != nullptr) answers_->Stop();
}

ServedReplicas::~ServedReplicas() { Stop(absl::Seconds(5)); }

void Install() { orchestrator::SetInProcessStarter(&ServedReplicas::Start); }

}  // namespace shoal::inprocess
