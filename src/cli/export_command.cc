// `shoal export kubernetes f.yml out/` and `shoal export docker-compose f.yml out.yml`: writes
// the manifests for a Flow YAML, or for a Deployment YAML (exported as a one-Deployment Flow whose
// gateway serves the Deployment's port). The writers are in src/export/; this reads and writes
// the files. Exit status: 0 written, 2 bad input, 1 a file could not be written.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <variant>

#include "src/cli/commands.h"
#include "src/config/deployment_yaml.h"
#include "src/config/flow_yaml.h"
#include "src/export/docker_compose.h"
#include "src/export/kubernetes.h"

namespace shoal::cli {
namespace {

struct ExportFlags {
  std::string input;
  std::string output;
  // Kubernetes.
  exporter::KubernetesOptions kubernetes;
  // docker-compose.
  exporter::ComposeOptions compose;
};

using Spec = std::variant<config::FlowSpec, config::DeploymentSpec>;

// The spec in `path`: a Flow, or a Deployment (by its jtype, see config::YamlKind).
StatusOr<Spec> LoadSpec(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError("cannot read '" + path + "'");
  std::stringstream text;
  text << file.rdbuf();
  SHOAL_ASSIGN_OR_RETURN(std::string kind, config::YamlKind(text.str(), path));
  if (kind == "Flow") {
    SHOAL_ASSIGN_OR_RETURN(config::FlowSpec flow, config::ParseFlowYaml(text.str(), path));
    return Spec(std::move(flow));
  }
  if (kind == "Deployment") {
    SHOAL_ASSIGN_OR_RETURN(config::DeploymentSpec deployment,
                           config::ParseDeploymentYaml(text.str(), path));
    return Spec(std::move(deployment));
  }
  return absl::InvalidArgumentError(path + ": jtype '" + kind +
                                    "' cannot be exported; expected a Flow or a Deployment YAML");
}

// Warnings about keys Shoal ignores still matter for the export; the ones that only concern
// local runs ("'gpus' only applies to `shoal export`") do not.
void PrintWarnings(const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings) {
    if (warning.find("`shoal export`") == std::string::npos) {
      std::cerr << "shoal export: warning: " << warning << "\n";
    }
  }
}

void PrintAllWarnings(const Spec& spec) {
  if (const auto* flow = std::get_if<config::FlowSpec>(&spec)) {
    PrintWarnings(flow->warnings);
    for (const config::DeploymentSpec& node : flow->executors) PrintWarnings(node.warnings);
  } else {
    PrintWarnings(std::get<config::DeploymentSpec>(spec).warnings);
  }
}

// docker-compose has no autoscaler: autoscaled Deployments get their starting replicas, fixed.
void WarnAboutAutoscaling(const Spec& spec) {
  auto warn = [](const config::DeploymentSpec& node) {
    if (!node.autoscaling) return;
    std::cerr << "shoal export: warning: Deployment '" << node.name
              << "': docker-compose does not autoscale; it runs " << node.replicas
              << " replica(s) per shard, fixed (initial_replicas, else replicas)\n";
  };
  if (const auto* flow = std::get_if<config::FlowSpec>(&spec)) {
    for (const config::DeploymentSpec& node : flow->executors) warn(node);
  } else {
    warn(std::get<config::DeploymentSpec>(spec));
  }
}

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) return absl::PermissionDeniedError("cannot write '" + path.string() + "'");
  return absl::OkStatus();
}

int Fail(const Status& status, int code) {
  std::cerr << "shoal export: " << status.message() << "\n";
  return code;
}

int RunKubernetes(const ExportFlags& flags) {
  StatusOr<Spec> spec = LoadSpec(flags.input);
  if (!spec.ok()) return Fail(spec.status(), 2);
  PrintAllWarnings(*spec);
  StatusOr<std::vector<exporter::Manifest>> manifests =
      std::visit([&](const auto& s) { return exporter::ToKubernetes(s, flags.kubernetes); }, *spec);
  if (!manifests.ok()) return Fail(manifests.status(), 2);
  std::error_code error;
  std::filesystem::create_directories(flags.output, error);
  if (error) {
    return Fail(
        absl::PermissionDeniedError("cannot create '" + flags.output + "': " + error.message()), 1);
  }
  for (const exporter::Manifest& manifest : *manifests) {
    const std::filesystem::path path = std::filesystem::path(flags.output) / manifest.file_name;
    if (Status written = WriteFile(path, manifest.yaml); !written.ok()) return Fail(written, 1);
    std::cout << "wrote " << path.string() << "\n";
  }
  return 0;
}

int RunCompose(const ExportFlags& flags) {
  StatusOr<Spec> spec = LoadSpec(flags.input);
  if (!spec.ok()) return Fail(spec.status(), 2);
  PrintAllWarnings(*spec);
  WarnAboutAutoscaling(*spec);
  StatusOr<std::string> compose =
      std::visit([&](const auto& s) { return exporter::ToDockerCompose(s, flags.compose); }, *spec);
  if (!compose.ok()) return Fail(compose.status(), 2);
  if (flags.output == "-") {
    std::cout << *compose;
    return 0;
  }
  const std::filesystem::path path(flags.output);
  if (path.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
  }
  if (Status written = WriteFile(path, *compose); !written.ok()) return Fail(written, 1);
  std::cout << "wrote " << path.string() << "\n";
  return 0;
}

}  // namespace

Command AddExportCommand(CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand(
      "export", "Write Kubernetes or docker-compose files for a Flow/Deployment");
  sub->require_subcommand(1);

  CLI::App* kubernetes = sub->add_subcommand(
      "kubernetes", "One manifest file per Deployment, plus the gateway's, into a folder");
  kubernetes->add_option("file", flags->input, "Flow or Deployment YAML")->required();
  kubernetes->add_option("out", flags->output, "Folder to write the manifests into")->required();
  kubernetes->add_option("--namespace", flags->kubernetes.k8s_namespace, "Kubernetes namespace")
      ->capture_default_str();
  kubernetes->add_option("--image", flags->kubernetes.image, "Image with the shoal binary")
      ->capture_default_str();
  kubernetes
      ->add_option("--storage", flags->kubernetes.storage,
                   "Workspace volume size of each stateful replica")
      ->capture_default_str();
  kubernetes->add_option("--storage-class", flags->kubernetes.storage_class,
                         "StorageClass of those volumes (default: the cluster's)");

  CLI::App* compose =
      sub->add_subcommand("docker-compose", "One compose file: a service per replica");
  compose->add_option("file", flags->input, "Flow or Deployment YAML")->required();
  compose->add_option("out", flags->output, "Compose file to write ('-': standard output)")
      ->required();
  compose->add_option("--image", flags->compose.image, "Image with the shoal binary")
      ->capture_default_str();
  compose->add_option("--network", flags->compose.network, "Name of the compose network")
      ->capture_default_str();

  return {sub, [flags, kubernetes] {
            return kubernetes->parsed() ? RunKubernetes(*flags) : RunCompose(*flags);
          }};
}

}  // namespace shoal::cli
