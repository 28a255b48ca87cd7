// Test harness for real processes: starts a `shoal` subcommand, waits for its `ready port=<n>`
// line, and ends it by pid. The child's stderr goes to a file that tests print on failure.
#ifndef SHOAL_TESTS_INTEGRATION_CHILD_PROCESS_H_
#define SHOAL_TESTS_INTEGRATION_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal::testing {

// The `shoal` binary under test (env SHOAL_BIN, set by CTest).
std::string ShoalBinary();

// Runs `curl -s --max-time 20 <args>` (a real HTTP client outside Shoal) and returns its stdout.
std::string Curl(const std::string& args);

// A replica's `_status` (JinaInfoRPC): its `jina` map, or its `envs` map; empty when it does not
// answer within 5 s. Replicas report `name`, `pending_requests` and `processed_requests`.
std::map<std::string, std::string> ReplicaInfo(const std::string& address, bool envs = false);

// Thread-compatible. The destructor SIGKILLs the child if it still runs.
class ChildProcess {
 public:
  // Starts `argv` (argv[0] a path). With `wait_ready`, waits up to `timeout` for the ready line;
  // an exit or a timeout before it is an error that includes the child's log.
  static StatusOr<std::unique_ptr<ChildProcess>> Start(
      std::vector<std::string> argv, bool wait_ready = true,
      std::chrono::milliseconds timeout = std::chrono::seconds(30),
      std::vector<std::string> extra_env = {});
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The child's stderr so far.
  std::string Log() const;
  // Everything the child wrote on stdout so far.
  std::string Stdout();

  void Signal(int signal);
  // Waits for the exit; returns the exit code (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  ChildProcess() = default;
  bool ReadStdout(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int port_ = 0;
  int stdout_fd_ = -1;
  std::string stdout_;
  std::string log_path_;
  std::optional<int> exit_code_;
};

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_CHILD_PROCESS_H_
