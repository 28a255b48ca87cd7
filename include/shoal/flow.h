// A Flow: Deployments chained into a graph (`needs`) behind one gateway, as Jina's Flow.
//
//   shoal::Flow flow;
//   flow.Add({.name = "enc", .uses = "Sleep", .replicas = 3}).Add({.name = "idx", .uses = "Echo"});
//   if (auto started = flow.Start(); !started.ok()) ...
//   auto docs = flow.Post("/index", inputs);
#ifndef SHOAL_FLOW_H_
#define SHOAL_FLOW_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/status.h"

namespace shoal {

struct FlowOptions {
  std::string name = "flow";
  std::vector<std::string> protocols = {"grpc"};  // "grpc", "http"
  std::vector<int> ports;                         // per protocol; empty: any free port
  std::string host = "127.0.0.1";
  int prefetch = 1000;  // requests in flight per client stream
  // HTTP: docs per request (matches and chunks included; more: 413); 0: no limit.
  int max_docs_per_request = 10000;
  int max_message_size = 64 << 20;  // bytes a request to the gRPC gateway may have
  std::string shoal_binary;         // empty: found (see shoal::Deployment)
  int max_replicas = 256;           // per Executor: replicas x shards (see DeploymentOptions)
  // Security (docs/security.md): as DeploymentOptions; `auth_token`, `internal_tls` and
  // `reflection` also apply to every Executor that does not set its own.
  std::string auth_token;
  std::string ssl_certfile;  // the gateway serves TLS (with ssl_keyfile)
  std::string ssl_keyfile;
  InternalTlsOptions internal_tls;
  bool reflection = true;
};

// Options of Flow::ToKubernetesYaml, as `shoal export kubernetes` takes them.
struct KubernetesExportOptions {
  std::string k8s_namespace = "default";
  std::string image = "shoal:latest";  // an image with the `shoal` binary (see Dockerfile)
};

// Build with Add()/NeedsAll(), then Start(); thread-safe after Start().
class Flow {
 public:
  explicit Flow(FlowOptions options = {});
  // A Flow YAML (`jtype: Flow`, `with:`, `executors:`).
  static StatusOr<Flow> FromYaml(const std::filesystem::path& file);
  Flow(Flow&&) noexcept;
  Flow& operator=(Flow&&) noexcept;
  ~Flow();  // Stop()

  // Adds a Deployment; without `needs` it follows the previous non-floating one.
  Flow& Add(DeploymentOptions executor);
  // Adds a join that waits for every node nothing else waits for (Jina's needs_all).
  Flow& NeedsAll(std::string name = "joiner");

  // Starts every Deployment at once, then the gateway. Errors name the Deployment.
  Status Start();
  StatusOr<DocList> Post(std::string_view on, const DocList& inputs,
                         const PostOptions& options = {});
  void Stop();

  // The Flow as Kubernetes manifests in one multi-document YAML (`kubectl apply -f`): per shard a
  // Deployment (or, stateful, a StatefulSet) with headless Services, the gateway with its Flow in
  // a ConfigMap (docs/export.md). Needs no Start(). Errors name the Deployment and the key.
  StatusOr<std::string> ToKubernetesYaml(const KubernetesExportOptions& options = {}) const;

  int port() const;       // the gRPC port (0 if the Flow serves no gRPC)
  int http_port() const;  // the HTTP port (0 if the Flow serves no HTTP)
  // Changes the replicas of Executor `name` while the Flow runs (Jina's `Flow.scale`); the
  // gateway follows. See Deployment::Scale.
  Status Scale(const std::string& name, int replicas);
  // Moves Executor `name` to `executor` while the Flow runs. See Deployment::Update.
  Status Update(const std::string& name, const DeploymentOptions& executor);
  // host:port of every replica of Executor `name`, per shard (empty when unknown).
  std::vector<std::vector<std::string>> replica_addresses(const std::string& name) const;

  class Impl;

 private:
  explicit Flow(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal

#endif  // SHOAL_FLOW_H_
