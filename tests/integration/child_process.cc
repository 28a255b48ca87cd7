// ChildProcess: posix_spawn with stdout on a pipe and stderr in a temporary file.
#include "tests/integration/child_process.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "jina.grpc.pb.h"

extern char** environ;

namespace shoal::testing {

std::string ShoalBinary() {
  const char* bin = std::getenv("SHOAL_BIN");
  return bin != nullptr ? bin : "shoal";
}

std::string Curl(const std::string& args) {
  std::string command = "curl -s --max-time 20 " + args;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

std::map<std::string, std::string> ReplicaInfo(const std::string& address, bool envs) {
  auto stub =
      jina::JinaInfoRPC::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  google::protobuf::Empty empty;
  jina::JinaInfoProto info;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!stub->_status(&context, empty, &info).ok()) return {};
  const auto& map = envs ? info.envs() : info.jina();
  return {map.begin(), map.end()};
}

StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(std::vector<std::string> argv,
                                                            bool wait_ready,
                                                            std::chrono::milliseconds timeout,
                                                            std::vector<std::string> extra_env) {
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  char log_template[] = "/tmp/shoal-test-log-XXXXXX";
  int log_fd = mkstemp(log_template);
  if (log_fd < 0) return absl::InternalError("mkstemp failed");
  child->log_path_ = log_template;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (std::string& e : extra_env) env_storage.push_back(std::move(e));
  std::vector<char*> env;
  for (std::string& e : env_storage) env.push_back(e.data());
  env.push_back(nullptr);
  int rc = posix_spawn(&child->pid_, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  close(log_fd);
  child->stdout_fd_ = pipe_fds[0];
  if (rc != 0) {
    child->pid_ = -1;
    return absl::InternalError(absl::StrCat("posix_spawn ", argv[0], ": ", strerror(rc)));
  }
  if (!wait_ready) return child;

  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    size_t at = child->stdout_.find("ready port=");
    if (at != std::string::npos) {
      size_t end = child->stdout_.find('\n', at);
      if (end != std::string::npos &&
          absl::SimpleAtoi(child->stdout_.substr(at + 11, end - at - 11), &child->port_)) {
        return child;
      }
    }
    if (!child->ReadStdout(std::chrono::milliseconds(100))) {
      std::optional<int> code = child->Wait(std::chrono::milliseconds(2000));
      return absl::UnavailableError(absl::StrCat(absl::StrJoin(argv, " "), " exited with ",
                                                 code.value_or(-1),
                                                 " before it was ready; its log:\n", child->Log()));
    }
  }
  return absl::DeadlineExceededError(
      absl::StrCat(absl::StrJoin(argv, " "), " was not ready in time; its log:\n", child->Log()));
}

bool ChildProcess::ReadStdout(std::chrono::milliseconds timeout) {
  pollfd fd{.fd = stdout_fd_, .events = POLLIN, .revents = 0};
  if (poll(&fd, 1, static_cast<int>(timeout.count())) <= 0) return true;
  char buffer[4096];
  ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
  if (n <= 0) return false;  // closed: the child exited
  stdout_.append(buffer, static_cast<size_t>(n));
  return true;
}

std::string ChildProcess::Stdout() {
  while (stdout_fd_ >= 0) {
    pollfd fd{.fd = stdout_fd_, .events = POLLIN, .revents = 0};
    if (poll(&fd, 1, 0) <= 0 || !ReadStdout(std::chrono::milliseconds(0))) break;
  }
  return stdout_;
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, signal);
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_.has_value() || pid_ <= 0) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (!log_path_.empty()) unlink(log_path_.c_str());
}

}  // namespace shoal::testing
