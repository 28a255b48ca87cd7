#include "tests/integration/http_stack.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "src/routing/replica_set.h"

namespace shoal::gateway::testing {

std::string HttpStack::Url(std::string_view path) const {
  return scheme + "://127.0.0.1:" + std::to_string(server->port()) + std::string(path);
}

HttpStack::~HttpStack() {
  if (server != nullptr) server->Shutdown();
  // A request whose answer the server sent may still be finishing in the gateway (the answer
  // goes out before the request's run ends): the gateway must outlive it (Gateway::Drain).
  if (gateway != nullptr) {
    EXPECT_TRUE(gateway->Drain(absl::Seconds(10)));
  }
}

std::unique_ptr<HttpStack> StartHttpStack(const std::string& uses, HttpServer::Options options) {
  auto stack = std::make_unique<HttpStack>();
  auto child = shoal::testing::ChildProcess::Start({shoal::testing::ShoalBinary(), "executor",
                                                    "--uses", uses, "--name", "echo/rep-0",
                                                    "--host", "127.0.0.1", "--port", "0"});
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return nullptr;
  stack->replica = std::move(child).value();
  std::vector<std::unique_ptr<routing::ReplicaSet>> shards;
  shards.push_back(std::make_unique<routing::ReplicaSet>(
      std::vector<routing::Address>{{.host = "127.0.0.1", .port = stack->replica->port()}},
      routing::ReplicaSet::Options{.name = "echo"}));
  stack->router = std::make_unique<routing::DeploymentRouter>(
      routing::DeploymentRouter::Options{.name = "echo"}, std::move(shards));
  stack->gateway =
      std::make_unique<Gateway>(std::vector<routing::DeploymentRouter*>{stack->router.get()});
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = HttpServer::Start(stack->gateway.get(), options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  stack->server = std::move(server).value();
  return stack;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0) out.append(chunk, n);
  pclose(pipe);
  return out;
}

// The status code follows a marker (-w), after the body and any -v lines.
Reply Curl(const std::string& method, const std::string& url, const std::string& body,
           const std::string& options) {
  static std::atomic<int> files{0};
  std::string command = "curl -s -S --max-time 60 -X " + method +
                        " -w '\\nHTTP_CODE=%{http_code}\\n' " + options + " ";
  std::string file;
  if (!body.empty()) {
    file = (std::filesystem::temp_directory_path() /
            ("shoal_http_" + std::to_string(getpid()) + "_" + std::to_string(files++) + ".json"))
               .string();
    std::ofstream(file) << body;
    command += "-H 'Content-Type: application/json' --data-binary @" + ShellQuote(file) + " ";
  }
  std::string out = RunCommand(command + ShellQuote(url) + " 2>&1");
  if (!file.empty()) std::filesystem::remove(file);
  Reply reply;
  size_t marker = out.rfind("\nHTTP_CODE=");
  if (marker == std::string::npos) return reply;
  reply.code = std::atoi(out.c_str() + marker + 11);
  reply.body = out.substr(0, marker);
  return reply;
}

}  // namespace shoal::gateway::testing
