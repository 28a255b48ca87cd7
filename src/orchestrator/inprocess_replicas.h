// The replicas of an `inprocess: true` Deployment, as the orchestrator sees them: started by a
// hook that a program which can run them installs (src/inprocess/, which links the replica
// runtime: the `shoal` binary does, and C++ programs through shoal::EnableInProcessExecutors),
// so that the orchestrator, and the Python extension module built on it, need not link it.
#ifndef SHOAL_ORCHESTRATOR_INPROCESS_REPLICAS_H_
#define SHOAL_ORCHESTRATOR_INPROCESS_REPLICAS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "shoal/status.h"
#include "src/config/deployment_spec.h"
#include "src/routing/address.h"

namespace shoal::orchestrator {

// Thread-safe. Destroying it stops the replicas.
class InProcessReplicas {
 public:
  virtual ~InProcessReplicas() = default;
  // How the router reaches them, per shard (each Address with its routing::LocalReplica).
  virtual const std::vector<std::vector<routing::Address>>& addresses() const = 0;
  // Drains every replica: in-flight requests finish within `grace`, later ones are refused
  // UNAVAILABLE; then the Executors close. Idempotent.
  virtual void Stop(absl::Duration grace) = 0;
};

// Starts the replicas of `spec` (replicas x shards) serving gRPC on `host`; `workspace_of(shard,
// replica)` is a replica's workspace ("" for none).
using InProcessStarter = std::function<StatusOr<std::unique_ptr<InProcessReplicas>>(
    const config::DeploymentSpec& spec, const std::string& host,
    const std::function<std::string(int, int)>& workspace_of)>;

// Installs the hook; call before the first Deployment starts. Thread-safe.
void SetInProcessStarter(InProcessStarter starter);
// Starts `spec`'s replicas through the hook: FAILED_PRECONDITION naming the key when this
// program installed none.
StatusOr<std::unique_ptr<InProcessReplicas>> StartInProcessReplicas(
    const config::DeploymentSpec& spec, const std::string& host,
    const std::function<std::string(int, int)>& workspace_of);

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_INPROCESS_REPLICAS_H_
