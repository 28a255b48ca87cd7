// LocalDeployment: each replica's command line and environment, from a Deployment spec
// (GPU round robin included).
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "src/common/atomic_file.h"
#include "src/orchestrator/gpu_assignment.h"
#include "src/orchestrator/local_deployment.h"
#include "src/orchestrator/router_builder.h"
#include "src/rpc/auth.h"

namespace shoal::orchestrator {
namespace {

// CUDA_VISIBLE_DEVICES per replica when the Deployment's env (or ours) asks for RR.
StatusOr<std::vector<std::string>> CudaDevices(const config::DeploymentSpec& spec) {
  std::string value;
  std::string key = "env.CUDA_VISIBLE_DEVICES";
  auto it = spec.env.find("CUDA_VISIBLE_DEVICES");
  if (it != spec.env.end()) {
    value = it->second;
  } else if (const char* env = std::getenv("CUDA_VISIBLE_DEVICES"); env != nullptr) {
    value = env;
    key = "";
  }
  if (value.rfind("RR", 0) != 0) return std::vector<std::string>();
  StatusOr<int> count = DetectCudaDeviceCount();
  if (!count.ok()) return count.status();
  auto devices = AssignCudaDevices(value, spec.replicas, *count);
  if (!devices.ok()) {
    std::string where =
        key.empty() ? "environment CUDA_VISIBLE_DEVICES: " : WhereWritten(spec, key);
    return absl::InvalidArgumentError(
        absl::StrCat(where, "Deployment '", spec.name, "': ", devices.status().message()));
  }
  return devices->value_or(std::vector<std::string>());
}

}  // namespace

StatusOr<LocalDeployment::ReplicaBuild> LocalDeployment::BuildFor(
    const config::DeploymentSpec& spec) {
  ReplicaBuild build;
  SHOAL_ASSIGN_OR_RETURN(build.devices, CudaDevices(spec));
  if (!google::protobuf::util::MessageToJsonString(spec.uses_with, &build.uses_with_json).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(WhereWritten(spec, "uses_with"), "Deployment '",
                                                   spec.name, "': uses_with is not JSON-able"));
  }
  return build;
}

ReplicaProcessSpec LocalDeployment::ReplicaSpec(int shard, int r, int members,
                                                const std::vector<std::string>& join) const {
  return ReplicaSpec(spec_, ReplicaBuild{uses_with_json_, devices_}, shard, r, members, join);
}

ReplicaProcessSpec LocalDeployment::ReplicaSpec(const config::DeploymentSpec& spec,
                                                const ReplicaBuild& build, int shard, int r,
                                                int members,
                                                const std::vector<std::string>& join) const {
  ReplicaProcessSpec replica;
  replica.name = ReplicaName(spec.name, spec.shards, shard, r);
  // A pinned port stays the same across restarts; otherwise the supervisor fills in `{port}`.
  const std::string port =
      shard == 0 && r == 0 && replica_port_ > 0 ? std::to_string(replica_port_) : "{port}";
  replica.argv = {binary_,       "executor",           "--uses", spec.uses,
                  "--uses-with", build.uses_with_json, "--name", replica.name,
                  "--host",      replica_host_,        "--port", port};
  // Each replica serves its own metrics, on a port of its choosing (logged by the replica).
  if (spec.port_monitoring.has_value()) {
    replica.argv.insert(replica.argv.end(), {"--port-monitoring", "0"});
  }
  if (spec.max_queued_requests > 0) {
    replica.argv.insert(replica.argv.end(),
                        {"--max-queued-requests", std::to_string(spec.max_queued_requests)});
  }
  for (std::string& flag : config::ReplicaLimitFlags(spec)) replica.argv.push_back(std::move(flag));
  if (!spec.workspace.empty()) {
    replica.argv.push_back("--workspace");
    replica.argv.push_back(ReplicaWorkspace(spec, shard, r));
  }
  if (spec.stateful) {
    // Each shard is one Raft group. The first members bootstrap it together; a member added
    // later joins through the running ones.
    replica.argv.insert(
        replica.argv.end(),
        {"--stateful", "--raft-id", RaftId(shard, r), "--raft-address", RaftAddress(shard, r),
         "--raft-configuration", raft_configuration_json_, "--read-consistency",
         spec.read_consistency, "--timeout-ready",
         std::to_string(spec.timeout_ready_ms < 0 ? 3600000 : spec.timeout_ready_ms)});
    if (join.empty()) {
      std::string peers;
      for (int m = 0; m < members; ++m) {
        absl::StrAppend(&peers, peers.empty() ? "" : ",", RaftId(shard, m), "=",
                        RaftAddress(shard, m));
      }
      replica.argv.insert(replica.argv.end(), {"--raft-peers", peers});
    } else {
      replica.argv.insert(replica.argv.end(), {"--raft-join", absl::StrJoin(join, ",")});
    }
  }
  const TlsFiles& tls = spec.internal_tls;
  if (tls.enabled()) {
    replica.argv.insert(replica.argv.end(), {"--ssl-certfile", tls.certfile, "--ssl-keyfile",
                                             tls.keyfile, "--ssl-cafile", tls.cafile});
    if (spec.stateful) {  // the Raft members' own connections: mutual TLS with the same files
      replica.argv.insert(replica.argv.end(),
                          {"--raft-tls-certfile", tls.certfile, "--raft-tls-keyfile", tls.keyfile,
                           "--raft-tls-cafile", tls.cafile});
    }
  }
  if (!spec.reflection) replica.argv.push_back("--no-reflection");
  replica.env = spec.env;
  replica.env["JINA_DEPLOYMENT_NAME"] = replica.name;
  // One OpenBLAS thread and one Go processor unless asked otherwise (config::ReplicaEnvDefaults):
  // with OpenBLAS's threads a replica's start cost 110 ms of CPU instead of 10 ms, and a rolling
  // update's slowest calls met those starts.
  replica.env.merge(config::ReplicaEnvDefaults(replica.env, /*inherited=*/true));
  // The token goes by environment, never argv (which `ps` shows to every user); set even when
  // empty, so that a token in the orchestrator's own environment is not inherited by mistake.
  replica.env[rpc::kAuthTokenEnv] = spec.auth_token;
  if (!build.devices.empty()) {
    replica.env["CUDA_VISIBLE_DEVICES"] = build.devices[r % build.devices.size()];
  }
  return replica;
}

int LocalDeployment::Generation(int shard, int r) const {
  if (static_cast<size_t>(shard) >= generations_.size()) return 0;
  const std::vector<int>& shard_generations = generations_[shard];
  return static_cast<size_t>(r) < shard_generations.size() ? shard_generations[r] : 0;
}

std::string LocalDeployment::RaftId(int shard, int r) const {
  const int generation = Generation(shard, r);
  return generation == 0 ? absl::StrCat("rep-", r) : absl::StrCat("rep-", r, ".g", generation);
}

std::string LocalDeployment::ReplicaWorkspace(const config::DeploymentSpec& spec, int shard,
                                              int r) const {
  std::string name = ReplicaName(spec.name, spec.shards, shard, r);
  const int generation = Generation(shard, r);
  if (generation > 0) absl::StrAppend(&name, ".g", generation);
  return (std::filesystem::path(spec.workspace) / name).string();
}

StatusOr<std::vector<std::vector<int>>> LocalDeployment::ReadRaftGenerations() const {
  std::filesystem::path file =
      std::filesystem::path(spec_.workspace) / spec_.name / "raft-generations";
  std::vector<std::vector<int>> generations;
  std::ifstream in(file);
  std::string line;
  while (in && std::getline(in, line)) {
    generations.emplace_back();
    for (absl::string_view text : absl::StrSplit(line, ',', absl::SkipEmpty())) {
      int value = 0;
      if (!absl::SimpleAtoi(text, &value) || value < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            file.string(), ": '", text,
            "' is not a generation (a number >= 0); it must match the replicas' workspaces"));
      }
      generations.back().push_back(value);
    }
  }
  return generations;
}

Status LocalDeployment::RecordRaftGenerations() const {
  std::filesystem::path file =
      std::filesystem::path(spec_.workspace) / spec_.name / "raft-generations";
  std::string text;
  for (const std::vector<int>& shard : generations_) {
    absl::StrAppend(&text, absl::StrJoin(shard, ","), "\n");
  }
  return WriteFileAtomically(file, text);
}

}  // namespace shoal::orchestrator
