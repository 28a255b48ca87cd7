// Test harness for the HTTP gateway end to end: a real `shoal executor` process behind an
// in-process router, Gateway and HttpServer, and curl (a real outside HTTP client).
#ifndef SHOAL_TESTS_INTEGRATION_HTTP_STACK_H_
#define SHOAL_TESTS_INTEGRATION_HTTP_STACK_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "src/gateway/gateway.h"
#include "src/gateway/http_server.h"
#include "src/routing/deployment_router.h"
#include "tests/integration/child_process.h"

namespace shoal::gateway::testing {

// One Deployment ("echo") of one replica process, served over HTTP.
struct HttpStack {
  std::unique_ptr<shoal::testing::ChildProcess> replica;
  std::unique_ptr<routing::DeploymentRouter> router;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<HttpServer> server;
  std::string scheme = "http";

  std::string Url(std::string_view path) const;
  ~HttpStack();
};

// `options.host` and `options.port` are set to 127.0.0.1 and 0. Null (after a test failure)
// when the replica or the server cannot start.
std::unique_ptr<HttpStack> StartHttpStack(const std::string& uses, HttpServer::Options options);

struct Reply {
  int code = 0;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

std::string ShellQuote(std::string_view s);
// Runs a shell command; its stdout.
std::string RunCommand(const std::string& command);
// One curl request (a JSON body when `body` is not empty); `options` go on curl's command line.
Reply Curl(const std::string& method, const std::string& url, const std::string& body = "",
           const std::string& options = "");

}  // namespace shoal::gateway::testing

#endif  // SHOAL_TESTS_INTEGRATION_HTTP_STACK_H_
