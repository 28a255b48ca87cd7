// `shoal rollout FILE --pid PID`: checks FILE with the parser `shoal deployment` / `shoal flow`
// use (a mistake never reaches the running process), checks that PID runs FILE, sends it
// SIGHUP and waits for the outcome of the reload in its status file (src/cli/reload.h).
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/cli/commands.h"
#include "src/cli/reload.h"
#include "src/config/deployment_yaml.h"
#include "src/config/flow_yaml.h"

namespace shoal::cli {
namespace {

namespace fs = std::filesystem;

struct RolloutFlags {
  std::string file;
  int pid = 0;
  std::string status_file;
  double timeout_s = 900;
};

// NUL-separated /proc/<pid>/<what>.
std::vector<std::string> ProcList(int pid, const char* what) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", what), std::ios::binary);
  std::vector<std::string> items;
  for (std::string item; std::getline(in, item, '\0');) items.push_back(item);
  return items;
}

// The value of `--name V` or `--name=V` in `argv`; "" when absent.
std::string FlagValue(const std::vector<std::string>& argv, const std::string& name) {
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == name && i + 1 < argv.size()) return argv[i + 1];
    if (argv[i].rfind(name + "=", 0) == 0) return argv[i].substr(name.size() + 1);
  }
  return "";
}

// "Deployment" or "Flow": FILE parsed as the process will parse it.
StatusOr<std::string> CheckFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::stringstream text;
  text << file.rdbuf();
  SHOAL_ASSIGN_OR_RETURN(std::string kind, config::YamlKind(text.str(), path));
  if (kind == "Flow") {
    SHOAL_RETURN_IF_ERROR(config::ParseFlowYaml(text.str(), path).status());
  } else if (kind == "Deployment") {
    SHOAL_RETURN_IF_ERROR(config::ParseDeploymentYaml(text.str(), path).status());
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": jtype '", kind, "': expected a Flow or a Deployment YAML"));
  }
  return kind;
}

// The status file of `pid`, after checking that it runs `shoal deployment|flow --uses FILE`.
StatusOr<std::string> CheckProcess(const RolloutFlags& flags, const std::string& kind) {
  const std::vector<std::string> argv = ProcList(flags.pid, "cmdline");
  const std::string command = kind == "Flow" ? "flow" : "deployment";
  if (argv.size() < 2 || argv[1] != command) {
    return absl::FailedPreconditionError(absl::StrCat("process ", flags.pid, " is not `shoal ",
                                                      command, "` (", flags.file, " is a ", kind,
                                                      " YAML)"));
  }
  fs::path uses = FlagValue(argv, "--uses");
  if (uses.is_relative()) uses = fs::path(absl::StrCat("/proc/", flags.pid, "/cwd")) / uses;
  std::error_code error;
  if (!fs::equivalent(uses, flags.file, error)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "process ", flags.pid, " runs ", FlagValue(argv, "--uses"), ", not ", flags.file));
  }
  if (!flags.status_file.empty()) return flags.status_file;
  std::string status_file = FlagValue(argv, "--status-file");
  if (!status_file.empty()) return status_file;
  for (const std::string& entry : ProcList(flags.pid, "environ")) {
    if (entry.rfind("XDG_RUNTIME_DIR=", 0) == 0 && entry.size() > 16) {
      return absl::StrCat(entry.substr(16), "/shoal-", flags.pid, ".status");
    }
  }
  return absl::StrCat("/tmp/shoal-", flags.pid, ".status");
}

// The status in `path`, written by the owner of `pid` (not planted by another user).
StatusOr<ReloadStatus> ReadStatusOf(int pid, const std::string& path) {
  struct stat process_stat {};
  if (stat(absl::StrCat("/proc/", pid).c_str(), &process_stat) != 0) {
    return absl::UnavailableError(absl::StrCat("process ", pid, " has exited"));
  }
  StatusOr<ReloadStatus> status = ReadReloadStatus(path, process_stat.st_uid);
  if (status.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " has no status file ", path));
  }
  if (status.status().code() == absl::StatusCode::kPermissionDenied) {
    return absl::PermissionDeniedError(absl::StrCat(
        status.status().message(), " (it must be a file of the user of process ", pid, ")"));
  }
  return status;
}

int RunRollout(const RolloutFlags& flags) {
  StatusOr<std::string> kind = CheckFile(flags.file);
  if (!kind.ok()) {
    std::cerr << "shoal rollout: " << kind.status().message() << "\nshoal rollout: process "
              << flags.pid << " was not signalled\n";
    return 2;
  }
  StatusOr<std::string> status_file = CheckProcess(flags, *kind);
  StatusOr<ReloadStatus> before =
      status_file.ok() ? ReadStatusOf(flags.pid, *status_file) : status_file.status();
  if (!before.ok()) {
    std::cerr << "shoal rollout: " << before.status().message() << "\nshoal rollout: process "
              << flags.pid << " was not signalled\n";
    return 2;
  }
  // A reload under way may have read the file before it changed: wait for the next one.
  const uint64_t target = before->reloads + (before->state == "reloading" ? 2 : 1);
  if (kill(flags.pid, SIGHUP) != 0) {
    std::cerr << "shoal rollout: cannot signal process " << flags.pid << "\n";
    return 1;
  }
  std::cerr << "shoal rollout: process " << flags.pid << " reloads " << flags.file << "\n";
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(flags.timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    StatusOr<ReloadStatus> now = ReadStatusOf(flags.pid, *status_file);
    if (now.ok() && now->reloads >= target && now->state != "reloading") {
      if (now->state == "ok") {
        std::cout << "rollout ok\n";
        return 0;
      }
      std::cerr << "shoal rollout: failed: " << now->message << "\n";
      return 1;
    }
    if (!now.ok() && now.status().code() == absl::StatusCode::kUnavailable) {
      std::cerr << "shoal rollout: " << now.status().message() << "\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "shoal rollout: no outcome within " << flags.timeout_s << " s (see the log of "
            << "process " << flags.pid << ")\n";
  return 1;
}

}  // namespace

Command AddRolloutCommand(CLI::App& app) {
  auto flags = std::make_shared<RolloutFlags>();
  CLI::App* sub =
      app.add_subcommand("rollout",
                         "Check a changed Deployment or Flow YAML, make the `shoal deployment` or "
                         "`shoal flow` running it reload it (SIGHUP), and wait for the outcome");
  sub->add_option("file", flags->file, "The YAML the process runs (--uses), changed")->required();
  sub->add_option("--pid", flags->pid, "The `shoal deployment` or `shoal flow` process")
      ->required()
      ->check(CLI::PositiveNumber);
  sub->add_option("--status-file", flags->status_file,
                  "The process's --status-file (default: read from its command line)");
  sub->add_option("--timeout", flags->timeout_s, "Seconds to wait for the outcome")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return {sub, [flags] { return RunRollout(*flags); }};
}

}  // namespace shoal::cli
