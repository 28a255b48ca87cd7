// In-process replicas: each a ReplicaServer in this process, its Executor on its own thread,
// reached by the router without a network hop (the router calls ReplicaServer::CallDirect
// through routing::LocalReplica) and serving gRPC on the replica host for what is not a unary
// data call (health probes, stream_doc, discovery). Stateless C++ Executors only.
#ifndef SHOAL_INPROCESS_REPLICAS_H_
#define SHOAL_INPROCESS_REPLICAS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shoal/status.h"
#include "src/common/task_thread.h"
#include "src/config/deployment_spec.h"
#include "src/orchestrator/inprocess_replicas.h"
#include "src/replica/server.h"

namespace shoal::inprocess {

class ServedReplicas : public orchestrator::InProcessReplicas {
 public:
  // Loads the Executor once per replica of every shard and serves each on `host` (any free
  // port). Errors name the replica and, for a Python Executor or a stateful Deployment, why it
  // cannot run here.
  static StatusOr<std::unique_ptr<orchestrator::InProcessReplicas>> Start(
      const config::DeploymentSpec& spec, const std::string& host,
      const std::function<std::string(int, int)>& workspace_of);
  ~ServedReplicas() override;  // Stop(5 s)

  const std::vector<std::vector<routing::Address>>& addresses() const override {
    return addresses_;
  }
  void Stop(absl::Duration grace) override;

 private:
  ServedReplicas() = default;

  // Where answers made on an executor thread go on (see Direct); before servers_, so that it
  // is destroyed after them.
  std::unique_ptr<TaskThread> answers_;
  std::vector<std::unique_ptr<replica::ReplicaServer>> servers_;
  std::vector<std::vector<routing::Address>> addresses_;
};

// Installs ServedReplicas::Start as the orchestrator's in-process starter.
void Install();

}  // namespace shoal::inprocess

#endif  // SHOAL_INPROCESS_REPLICAS_H_
