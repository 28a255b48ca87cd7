// A docker-compose file for a Flow or a Deployment (DESIGN.md §11, docs/export.md): one service
// per replica of each shard (named as Jina names them: `enc`, `enc-rep-1`, `idx-0-rep-2`), each
// with a `shoal ping` health check, GPU reservations for `gpus`, a named volume for the workspace;
// stateful replicas reach their Raft peers by service name; the gateway lists every replica's
// address and publishes its ports. One bridge network. Pure functions of the specs.
#ifndef SHOAL_EXPORT_DOCKER_COMPOSE_H_
#define SHOAL_EXPORT_DOCKER_COMPOSE_H_

#include <string>

#include "shoal/status.h"
#include "src/config/deployment_spec.h"
#include "src/config/flow_spec.h"

namespace shoal::exporter {

struct ComposeOptions {
  std::string image = "shoal:latest";
  std::string network = "shoal";
};

// The compose file's text. Errors as ToKubernetes (names, `gpus`, `uses`, ...).
StatusOr<std::string> ToDockerCompose(const config::FlowSpec& flow, const ComposeOptions& options);
// A Deployment alone, behind a gateway service "<name>-gateway" that publishes its port.
StatusOr<std::string> ToDockerCompose(const config::DeploymentSpec& deployment,
                                      const ComposeOptions& options);

}  // namespace shoal::exporter

#endif  // SHOAL_EXPORT_DOCKER_COMPOSE_H_
