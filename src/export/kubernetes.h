// Kubernetes manifests for a Flow or a Deployment (DESIGN.md §11, docs/export.md):
//  - per shard of each Deployment, a k8s Deployment of `replicas` pods and a headless Service, so
//    that the gateway resolves every pod's address through DNS and balances per replica with
//    Shoal's own router (no service mesh);
//  - per stateful shard, a StatefulSet instead (Parallel pod management, a volume claim per pod
//    for the workspace), whose stable pod DNS names are the Raft peers, and a second headless
//    Service that publishes pods before they are ready so that peers can find each other;
//  - the gateway: a ConfigMap with the Flow it routes, a Deployment and a ClusterIP Service;
//  - startup, readiness and liveness probes running `shoal ping`; `gpus` as nvidia.com/gpu limits.
// Pure functions of the specs: nothing is read or written here.
#ifndef SHOAL_EXPORT_KUBERNETES_H_
#define SHOAL_EXPORT_KUBERNETES_H_

#include <string>
#include <vector>

#include "shoal/status.h"
#include "src/config/deployment_spec.h"
#include "src/config/flow_spec.h"

namespace shoal::exporter {

struct KubernetesOptions {
  std::string k8s_namespace = "default";
  std::string image = "shoal:latest";
  std::string storage = "1Gi";  // the workspace claim of each stateful replica
  std::string storage_class;    // empty: the cluster's default StorageClass
};

// One file of the export: a name ("indexer.yml") and its YAML, one or more documents.
struct Manifest {
  std::string file_name;
  std::string yaml;
};

// The gateway's file first, then one file per deployed Deployment (external ones are only
// addresses in the gateway's arguments). Errors: InvalidArgument naming the Deployment and key
// (a name that cannot be a DNS label, `gpus: all`, a hub `uses`, ...), AlreadyExists when two
// names become the same object name.
StatusOr<std::vector<Manifest>> ToKubernetes(const config::FlowSpec& flow,
                                             const KubernetesOptions& options);
// A Deployment alone: a Flow of that Deployment whose gateway ("<name>-gateway") serves its port.
StatusOr<std::vector<Manifest>> ToKubernetes(const config::DeploymentSpec& deployment,
                                             const KubernetesOptions& options);

// The manifests as one multi-document YAML stream (`kubectl apply -f -`).
std::string JoinManifests(const std::vector<Manifest>& manifests);

}  // namespace shoal::exporter

#endif  // SHOAL_EXPORT_KUBERNETES_H_
