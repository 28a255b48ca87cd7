// `shoal ping HOST:PORT`: one grpc.health.v1 Check of service ""; exit status 0 when the server
// is SERVING, 1 otherwise (the reason on stderr). Used by scripts and Kubernetes probes.
#include <chrono>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "shoal/client.h"
#include "src/cli/commands.h"

namespace shoal::cli {
namespace {

struct PingFlags {
  std::string address;
  int timeout_ms = 3000;
  TlsFiles tls;
  std::string auth_token_file;  // not needed by health; accepted so probes can share flags
};

int RunPing(const PingFlags& flags) {
  // No waiting for a connection: a refused connection is an immediate "not serving".
  StatusOr<Client> client =
      Client::Connect(flags.address, {.connect_timeout = std::chrono::milliseconds(0),
                                      .ssl_cafile = flags.tls.cafile,
                                      .ssl_certfile = flags.tls.certfile,
                                      .ssl_keyfile = flags.tls.keyfile});
  if (!client.ok()) {
    std::cerr << "shoal ping: " << client.status().message() << "\n";
    return 1;
  }
  Status status = client->Ping(std::chrono::milliseconds(flags.timeout_ms));
  if (!status.ok()) {
    std::cerr << "shoal ping: " << status.message() << "\n";
    return 1;
  }
  std::cout << flags.address << " is serving\n";
  return 0;
}

}  // namespace

Command AddPingCommand(CLI::App& app) {
  auto flags = std::make_shared<PingFlags>();
  CLI::App* sub = app.add_subcommand("ping", "Check that a server is SERVING (gRPC health)");
  sub->add_option("address", flags->address, "host:port of the server (grpcs://host:port: TLS)")
      ->required();
  sub->add_option("--timeout", flags->timeout_ms, "Milliseconds to wait for the answer")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  AddCallerOptions(sub, &flags->tls, &flags->auth_token_file);
  return {sub, [flags] { return RunPing(*flags); }};
}

}  // namespace shoal::cli
