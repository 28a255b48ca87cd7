// LocalFlow: parallel start of the Deployments, then the graph and the gateway's servers.
#include "src/orchestrator/local_flow.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/log.h"
#include "src/orchestrator/capacity.h"

namespace shoal::orchestrator {

StatusOr<std::unique_ptr<LocalFlow>> LocalFlow::Start(const config::FlowSpec& spec,
                                                      const Options& options) {
  SHOAL_RETURN_IF_ERROR(config::ValidateFlowSpec(spec));
  // Every Deployment is checked before any of them starts a replica.
  std::vector<const config::DeploymentSpec*> executors;
  for (const config::DeploymentSpec& executor : spec.executors) executors.push_back(&executor);
  SHOAL_RETURN_IF_ERROR(
      CheckCanStart(executors, options.local.max_replicas, absl::StrCat("Flow '", spec.name, "'")));
  std::unique_ptr<LocalFlow> flow(new LocalFlow());
  flow->spec_ = spec;
  // Every Deployment starts at once; the Flow is ready when the slowest one is.
  std::vector<StatusOr<std::unique_ptr<LocalDeployment>>> started;
  for (size_t i = 0; i < spec.executors.size(); ++i) started.emplace_back(absl::UnknownError(""));
  std::vector<std::thread> starters;
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    starters.emplace_back([&, i] {
      const config::DeploymentSpec& executor = spec.executors[i];
      LocalDeployment::Options local = options.local;
      local.metrics_host = spec.host;
      // In a Flow an Executor's `port` is its replica's (no head; ValidateFlowSpec allows it
      // with one replica only), as Jina's Flow gives a one-replica Executor its port.
      if (!executor.external && executor.port.has_value()) local.replica_port = *executor.port;
      started[i] = LocalDeployment::Start(executor, local);
    });
  }
  for (std::thread& t : starters) t.join();
  Status failure;
  for (auto& s : started) {
    if (s.ok()) {
      flow->deployments_.push_back(std::move(s).value());
    } else if (failure.ok()) {
      failure = s.status();
    }
  }
  if (!failure.ok()) return failure;  // the started Deployments stop with `flow`

  std::vector<routing::DeploymentRouter*> routers;
  for (auto& d : flow->deployments_) routers.push_back(&d->router());
  SHOAL_ASSIGN_OR_RETURN(flow->gateway_, FlowGateway::Start(spec, routers));
  return flow;
}

LocalDeployment* LocalFlow::deployment(const std::string& name) {
  for (auto& d : deployments_) {
    if (d->spec().name == name) return d.get();
  }
  return nullptr;
}

Status LocalFlow::UpdateExecutors(const config::FlowSpec& spec) {
  std::vector<std::string> running;
  std::vector<std::string> wanted;
  for (const auto& d : deployments_) running.push_back(d->spec().name);
  for (const config::DeploymentSpec& executor : spec.executors) wanted.push_back(executor.name);
  if (running != wanted) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Flow '", spec_.name, "': the Executors changed (running: ", absl::StrJoin(running, ", "),
        "; in the file: ", absl::StrJoin(wanted, ", "),
        "); adding, removing or renaming Executors needs a restart of the Flow"));
  }
  // Every change is checked before the first one starts.
  std::vector<size_t> changed;
  for (size_t i = 0; i < deployments_.size(); ++i) {
    SHOAL_ASSIGN_OR_RETURN(config::SpecChange change,
                           config::DiffDeploymentSpecs(deployments_[i]->spec(), spec.executors[i]));
    if (!change.empty()) changed.push_back(i);
  }
  if (changed.empty()) {
    SHOAL_LOG_INFO("Flow '%s': no Executor changed", spec_.name);
    return absl::OkStatus();
  }
  for (size_t i : changed) {
    Status updated = deployments_[i]->Update(spec.executors[i]);
    if (!updated.ok()) {
      return absl::Status(updated.code(), absl::StrCat("Flow '", spec_.name, "': Executor '",
                                                       wanted[i], "': ", updated.message()));
    }
  }
  return absl::OkStatus();
}

void LocalFlow::Stop(absl::Duration grace) {
  if (gateway_ != nullptr) gateway_->StopServing(grace);
  std::vector<std::thread> stoppers;
  for (auto& d : deployments_) stoppers.emplace_back([&d] { d->Stop(); });
  for (std::thread& t : stoppers) t.join();
  if (gateway_ != nullptr) gateway_->Drain(absl::Seconds(30));
}

LocalFlow::~LocalFlow() { Stop(); }

}  // namespace shoal::orchestrator
