// Machine limits from getrlimit, /proc and the cgroup, and the check of a plan of replica
// processes against them.
#include "src/orchestrator/capacity.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/common/log.h"

namespace shoal::orchestrator {
namespace {

// The first number in `path` (a /proc or /sys file holding one), if it can be read.
std::optional<uint64_t> ReadNumber(const std::filesystem::path& path) {
  std::ifstream file(path);
  uint64_t value = 0;
  if (!(file >> value)) return std::nullopt;
  return value;
}

// `key`'s value in /proc/meminfo, in bytes.
std::optional<uint64_t> MemInfoBytes(std::string_view key) {
  std::ifstream file("/proc/meminfo");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind(key, 0) != 0 || line.size() <= key.size() || line[key.size()] != ':') continue;
    std::istringstream fields(line.substr(key.size() + 1));
    uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return std::nullopt;
}

// This process's cgroup v2 folder ("0::/path" in /proc/self/cgroup).
std::optional<std::filesystem::path> CgroupFolder() {
  std::ifstream file("/proc/self/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("0::", 0) == 0) return std::filesystem::path("/sys/fs/cgroup") / line.substr(4);
  }
  return std::nullopt;
}

// Tasks running on the machine now: the total in /proc/loadavg ("0.1 0.2 0.3 2/431 1234").
std::optional<uint64_t> RunningTasks() {
  std::ifstream file("/proc/loadavg");
  std::string skip, counts;
  if (!(file >> skip >> skip >> skip >> counts)) return std::nullopt;
  size_t slash = counts.find('/');
  if (slash == std::string::npos) return std::nullopt;
  return std::strtoull(counts.c_str() + slash + 1, nullptr, 10);
}

std::string Bytes(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30)) return absl::StrFormat("%.1f GiB", bytes / 1073741824.0);
  return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
}

void ReadTasks(MachineLimits& limits) {
  std::optional<uint64_t> running = RunningTasks();
  for (const char* name : {"pid_max", "threads-max"}) {
    std::optional<uint64_t> max = ReadNumber(std::string("/proc/sys/kernel/") + name);
    if (!max.has_value() || !running.has_value()) continue;
    uint64_t left = *max > *running ? *max - *running : 0;
    if (left < limits.tasks) {
      limits.tasks = left;
      limits.tasks_source =
          absl::StrFormat("kernel.%s %d with %d tasks running", name, *max, *running);
    }
  }
  rlimit nproc{};
  // RLIMIT_NPROC counts the user's tasks, which are not known here; root is not held to it.
  if (geteuid() != 0 && getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY &&
      nproc.rlim_cur < limits.tasks) {
    limits.tasks = nproc.rlim_cur;
    limits.tasks_source = absl::StrFormat("RLIMIT_NPROC %d", nproc.rlim_cur);
  }
}

void ReadMemory(MachineLimits& limits) {
  if (std::optional<uint64_t> available = MemInfoBytes("MemAvailable")) {
    limits.memory = *available;
    limits.memory_source = "MemAvailable " + Bytes(*available);
  }
  std::optional<std::filesystem::path> cgroup = CgroupFolder();
  if (!cgroup.has_value()) return;
  std::optional<uint64_t> max = ReadNumber(*cgroup / "memory.max");  // "max": no number
  std::optional<uint64_t> current = ReadNumber(*cgroup / "memory.current");
  if (!max.has_value() || !current.has_value()) return;
  uint64_t left = *max > *current ? *max - *current : 0;
  if (left < limits.memory) {
    limits.memory = left;
    limits.memory_source =
        absl::StrFormat("cgroup memory.max %s with %s in use", Bytes(*max), Bytes(*current));
  }
}

// The most descriptors the soft limit may be raised to.
uint64_t OpenFileCeiling(const rlimit& nofile) {
  uint64_t ceiling = nofile.rlim_max;
  if (nofile.rlim_max == RLIM_INFINITY) {
    ceiling = ReadNumber("/proc/sys/fs/nr_open").value_or(1 << 20);
  }
  return ceiling;
}

uint64_t OpenDescriptors() {
  std::error_code error;
  uint64_t open = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++open;
  }
  return open;
}

}  // namespace

MachineLimits ReadMachineLimits() {
  MachineLimits limits;
  ReadTasks(limits);
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    uint64_t ceiling = OpenFileCeiling(nofile);
    uint64_t open = OpenDescriptors();
    limits.fds = ceiling > open ? ceiling - open : 0;
    limits.fds_source =
        absl::StrFormat("RLIMIT_NOFILE %d (hard limit) with %d open", ceiling, open);
  }
  ReadMemory(limits);
  return limits;
}

Status CheckMachineCapacity(uint64_t processes, const std::string& what,
                            const MachineLimits& machine) {
  auto refuse = [&](uint64_t each, std::string_view resource, std::string_view source,
                    uint64_t left) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%s would start %d replica processes, more than this machine can hold: they need at "
        "least %d %s (%d each), %s leaves %d",
        what, processes, processes * each, resource, each, source, left));
  };
  if (processes * kTasksPerReplica > machine.tasks) {
    return refuse(kTasksPerReplica, "tasks", machine.tasks_source, machine.tasks);
  }
  if (processes * kFdsPerReplica > machine.fds) {
    return refuse(kFdsPerReplica, "file descriptors", machine.fds_source, machine.fds);
  }
  if (processes * kBytesPerReplica > machine.memory) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%s would start %d replica processes, more than this machine can hold: they need at "
        "least %s of memory (%s each), %s",
        what, processes, Bytes(processes * kBytesPerReplica), Bytes(kBytesPerReplica),
        machine.memory_source));
  }
  return absl::OkStatus();
}

Status CheckCanStart(const std::vector<const config::DeploymentSpec*>& specs, int max_replicas,
                     const std::string& what) {
  uint64_t processes = 0;
  std::string plan;
  for (const config::DeploymentSpec* spec : specs) {
    SHOAL_RETURN_IF_ERROR(config::CheckReplicaLimit(*spec, max_replicas));
    if (spec->external) continue;
    processes += uint64_t(spec->replicas) * uint64_t(spec->shards);
    absl::StrAppend(&plan, plan.empty() ? "" : ", ", specs.size() > 1 ? spec->name + ": " : "",
                    spec->replicas, " replicas x ", spec->shards, " shards");
  }
  if (processes == 0) return absl::OkStatus();
  RaiseOpenFileLimit(processes * kFdsPerReplica);
  return CheckMachineCapacity(processes, absl::StrCat(what, " (", plan, ")"), ReadMachineLimits());
}

void RaiseOpenFileLimit(uint64_t more) {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0) return;
  const uint64_t wanted = OpenDescriptors() + more + 256;  // the rest of the process: margin
  if (nofile.rlim_cur == RLIM_INFINITY || nofile.rlim_cur >= wanted) return;
  rlimit raised = nofile;
  raised.rlim_cur = std::min<uint64_t>(wanted, OpenFileCeiling(nofile));
  if (raised.rlim_cur <= nofile.rlim_cur) return;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    SHOAL_LOG_WARNING("could not raise the open file limit from %d to %d", nofile.rlim_cur,
                      raised.rlim_cur);
  }
}

}  // namespace shoal::orchestrator
