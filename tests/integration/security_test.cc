// Security of real `shoal` processes on 127.0.0.1: the shared-secret token on replicas, gateways
// and Raft membership; membership safety (quorum, dead addresses); server TLS and mTLS with a CA,
// server and client certificates made here with the openssl CLI.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/flow.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "s3cret-token-4711";

// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
struct Certificates {
  std::shared_ptr<const testing::TempDir> tmp;  // removed with the last copy
  std::filesystem::path dir;
  std::string ca() const { return (dir / "ca.pem").string(); }
  std::string server_cert() const { return (dir / "server.pem").string(); }
  std::string server_key() const { return (dir / "server.key").string(); }
  std::string client_cert() const { return (dir / "client.pem").string(); }
  std::string client_key() const { return (dir / "client.key").string(); }
};

Certificates MakeCertificates(const std::string& name) {
  Certificates certs{.tmp = std::make_shared<const testing::TempDir>("security-" + name)};
  certs.dir = certs.tmp->path();
  const std::string d = certs.dir.string();
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script =
      "set -e\nexec 2>openssl.log\n"
      "openssl req -x509 " +
      key +
      " -keyout ca.key -out ca.pem -days 2 -subj /CN=shoal-test-ca\n"
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext\n"
      "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n"
      "for who in server client; do\n"
      "  openssl req " +
      key +
      " -keyout $who.key -out $who.csr -subj /CN=$who\n"
      "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-out $who.pem -extfile $who.ext\n"
      "done\n";
  std::ofstream(certs.dir / "make.sh") << script;
  EXPECT_EQ(std::system(("cd '" + d + "' && bash make.sh").c_str()), 0)
      << "openssl failed; see " << d << "/openssl.log";
  return certs;
}

std::unique_ptr<testing::ChildProcess> StartExecutor(std::vector<std::string> args,
                                                     std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {
      testing::ShoalBinary(), "executor", "--uses", "Echo", "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = testing::ChildProcess::Start(argv, true, std::chrono::seconds(30), env);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(child).value() : nullptr;
}

DocList TextDocs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text("doc-" + std::to_string(i));
  return docs;
}

// Posts 3 docs over the stream and as unary calls; the first failure's status.
Status PostBothWays(const std::string& address, const ClientOptions& options) {
  StatusOr<Client> client = Client::Connect(address, options);
  if (!client.ok()) return client.status();
  for (bool stream : {true, false}) {
    StatusOr<DocList> docs = client->Post("/foo", TextDocs(3), {.stream = stream});
    if (!docs.ok()) return docs.status();
    if (docs->size() != 3) return absl::InternalError("wrong number of docs");
  }
  return absl::OkStatus();
}

// _status (JinaInfoRPC) with the given metadata `authorization` value ("" for none).
grpc::Status CallInfo(const std::string& address, const std::string& authorization) {
  auto stub =
      jina::JinaInfoRPC::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  google::protobuf::Empty request;
  jina::JinaInfoProto response;
  return stub->_status(&context, request, &response);
}

grpc::Status CallDiscovery(const std::string& address) {
  auto stub = jina::JinaDiscoverEndpointsRPC::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  google::protobuf::Empty request;
  jina::EndpointsProto response;
  return stub->endpoint_discovery(&context, request, &response);
}

// One ServerReflectionInfo exchange (list_services): the call's status.
grpc::Status ListServices(const std::string& address) {
  class Exchange : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    void OnWriteDone(bool ok) override { StartWritesDone(); }
    void OnReadDone(bool ok) override {}
    void OnDone(const grpc::Status& status) override {
      absl::MutexLock lock(&mu);
      this->status = status;
      done = true;
    }
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    grpc::Status status ABSL_GUARDED_BY(mu);
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  Exchange exchange;
  const char kListServices[] = {0x3a, 0x00};  // ServerReflectionRequest{list_services: ""}
  grpc::Slice slice(kListServices, sizeof(kListServices));
  exchange.request = grpc::ByteBuffer(&slice, 1);
  stub.PrepareBidiStreamingCall(&context,
                                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                grpc::StubOptions(), &exchange);
  exchange.StartWrite(&exchange.request);
  exchange.StartRead(&exchange.response);
  exchange.StartCall();
  absl::MutexLock lock(&exchange.mu);
  exchange.mu.Await(absl::Condition(&exchange.done));
  return exchange.status;
}

TEST(ReflectionTest, OnByDefaultAndOffWithNoReflection) {
  auto with = StartExecutor({});
  auto without = StartExecutor({"--no-reflection"});
  ASSERT_NE(with, nullptr);
  ASSERT_NE(without, nullptr);
  EXPECT_TRUE(ListServices(with->address()).ok());
  EXPECT_EQ(ListServices(without->address()).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(PostBothWays(without->address(), {}).ok());
}

// --- The token ---------------------------------------------------------------------------------

TEST(TokenTest, ReplicaRefusesCallsWithoutTheTokenAndServesWithIt) {
  auto replica = StartExecutor({}, {std::string("SHOAL_AUTH_TOKEN=") + kToken});
  ASSERT_NE(replica, nullptr);
  Status none = PostBothWays(replica->address(), {});
  EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated) << none;
  EXPECT_THAT(std::string(none.message()), Not(HasSubstr(kToken)));
  Status wrong = PostBothWays(replica->address(), {.auth_token = "s3cret-token-4712"});
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated) << wrong;
  EXPECT_THAT(std::string(wrong.message()), Not(HasSubstr("4712")));
  EXPECT_TRUE(PostBothWays(replica->address(), {.auth_token = kToken}).ok()) << replica->Log();

  EXPECT_EQ(CallInfo(replica->address(), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CallInfo(replica->address(), "Bearer wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(CallInfo(replica->address(), std::string("Bearer ") + kToken).ok());
  EXPECT_EQ(CallDiscovery(replica->address()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Health stays open: probes carry no secret.
  auto probe = Client::Connect(replica->address());
  ASSERT_TRUE(probe.ok());
  EXPECT_TRUE(probe->Ping().ok());
}

TEST(TokenTest, TokenFileIsReadAndAnUnreadableOneIsAnError) {
  const testing::TempDir tmp("security-token-file");
  std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "token") << kToken << "\n";
  auto replica = StartExecutor({"--auth-token-file", (dir / "token").string()});
  ASSERT_NE(replica, nullptr);
  EXPECT_EQ(PostBothWays(replica->address(), {}).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(PostBothWays(replica->address(), {.auth_token = kToken}).ok());

  auto missing =
      testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo", "--port",
                                    "0", "--auth-token-file", (dir / "missing").string()},
                                   false);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ((*missing)->Wait(std::chrono::seconds(20)), 2);
  EXPECT_THAT((*missing)->Log(), HasSubstr("missing' cannot be read"));
}

TEST(TokenTest, DeploymentGatewayNeedsTheTokenAndPassesItToItsReplicas) {
  DeploymentOptions options;
  options.name = "guarded";
  options.replicas = 2;
  options.auth_token = kToken;
  options.shoal_binary = testing::ShoalBinary();
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  const std::string gateway = "127.0.0.1:" + std::to_string(dep.port());
  Status none = PostBothWays(gateway, {});
  EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated) << none;
  EXPECT_EQ(CallInfo(gateway, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The gateway's own calls to the replicas carry the token: the answer comes back.
  EXPECT_TRUE(PostBothWays(gateway, {.auth_token = kToken}).ok());
  auto docs = dep.Post("/foo", TextDocs(4));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->size(), 4u);
  // The replicas themselves refuse callers without it, and got it by environment, not argv.
  const std::vector<std::vector<std::string>> replicas = dep.replica_addresses();
  for (const std::string& replica : replicas[0]) {
    EXPECT_EQ(PostBothWays(replica, {}).code(), absl::StatusCode::kUnauthenticated);
    std::ifstream cmdline("/proc/" + std::to_string(dep.replica_pid(0, 0)) + "/cmdline");
    std::string argv((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    EXPECT_THAT(argv, Not(HasSubstr(kToken)));
  }
  auto probe = Client::Connect(gateway);
  ASSERT_TRUE(probe.ok());
  EXPECT_TRUE(probe->Ping().ok());
}

TEST(TokenTest, FlowTokenFromTheEnvironmentGuardsTheGatewayAndReachesItsExecutors) {
  const testing::TempDir tmp("security-flow-token");
  const std::filesystem::path dir = tmp.path();
  const std::filesystem::path yaml = dir / "flow.yml";
  std::ofstream(yaml) << "jtype: Flow\n"
                         "with:\n"
                         "  host: 127.0.0.1\n"
                         "  auth_token: ${{ ENV.FLOW_TOKEN }}\n"
                         "executors:\n"
                         "  - {name: first, uses: Echo}\n"
                         "  - {name: second, uses: Echo, replicas: 2}\n";
  auto flow = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", yaml.string(), "--port", "0"}, true,
      std::chrono::seconds(60), {std::string("FLOW_TOKEN=") + kToken});
  ASSERT_TRUE(flow.ok()) << flow.status();
  const std::string address = (*flow)->address();
  EXPECT_EQ(PostBothWays(address, {}).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(PostBothWays(address, {.auth_token = kToken}).ok()) << (*flow)->Log();
  auto probe = Client::Connect(address);
  ASSERT_TRUE(probe.ok());
  EXPECT_TRUE(probe->Ping().ok());
}

// --- Raft membership ---------------------------------------------------------------------------

constexpr char kFastRaft[] =
    R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
        "CommitTimeout": 5, "LogLevel": "WARN"})";

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// Runs `shoal raft ...` to its end.
RunResult RunRaft(std::vector<std::string> args, std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {testing::ShoalBinary(), "raft"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = testing::ChildProcess::Start(argv, false, std::chrono::seconds(30), env);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return {};
  std::optional<int> code = (*child)->Wait(std::chrono::seconds(60));
  return {code.value_or(-1), (*child)->Stdout() + (*child)->Log()};
}

TEST(MembershipTest, ChangesNeedTheTokenAQuorumAndALiveAddress) {
  const testing::TempDir tmp("security-membership");
  std::filesystem::path workspace = tmp.path();
  DeploymentOptions options;
  options.name = "members";
  options.uses = "Counter";
  options.replicas = 3;
  options.stateful = true;
  options.workspace = workspace.string();
  options.raft_configuration = kFastRaft;
  options.retries = 30;
  options.auth_token = kToken;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 60000;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  std::string via;
  const std::vector<std::vector<std::string>> replicas = dep.replica_addresses();
  for (const std::string& replica : replicas[0]) {
    via += (via.empty() ? "" : ",") + replica;
  }
  const std::vector<std::string> with_token = {std::string("SHOAL_AUTH_TOKEN=") + kToken};

  RunResult anonymous = RunRaft({"remove", "--id", "rep-2", "--via", via, "--timeout", "5000"},
                                {"SHOAL_AUTH_TOKEN="});
  EXPECT_EQ(anonymous.exit_code, 1) << anonymous.out;
  EXPECT_THAT(anonymous.out, HasSubstr("needs a token"));

  // A member that does not listen is not added.
  RunResult dead = RunRaft(
      {"add", "--id", "rep-9", "--address", "127.0.0.1:1", "--via", via, "--timeout", "10000"},
      with_token);
  EXPECT_EQ(dead.exit_code, 1) << dead.out;
  EXPECT_THAT(dead.out, HasSubstr("'127.0.0.1:1' does not accept connections"));

  // 3 -> 2 keeps a quorum of the 3; 2 -> 1 leaves fewer than the quorum of 2.
  RunResult first = RunRaft({"remove", "--id", "rep-2", "--via", via}, with_token);
  EXPECT_EQ(first.exit_code, 0) << first.out;
  RunResult second = RunRaft({"remove", "--id", "rep-1", "--via", via}, with_token);
  EXPECT_EQ(second.exit_code, 1) << second.out;
  EXPECT_THAT(second.out, HasSubstr("fewer than the quorum of 2 of the current 2 voters"));
  EXPECT_THAT(second.out, HasSubstr("rep-0"));
  EXPECT_THAT(second.out, HasSubstr("--force"));
  RunResult forced = RunRaft({"remove", "--id", "rep-1", "--via", via, "--force"}, with_token);
  EXPECT_EQ(forced.exit_code, 0) << forced.out;
}

TEST(MembershipTest, ScalingAStatefulDeploymentWithInternalTlsAndAToken) {
  Certificates certs = MakeCertificates("stateful-tls");
  DeploymentOptions options;
  options.name = "securestate";
  options.uses = "Counter";
  options.replicas = 3;
  options.stateful = true;
  options.workspace = (certs.dir / "workspace").string();
  options.raft_configuration = kFastRaft;
  options.retries = 30;
  options.auth_token = kToken;
  options.internal_tls = {
      .certfile = certs.server_cert(), .keyfile = certs.server_key(), .cafile = certs.ca()};
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 60000;
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(dep.Post("/index", TextDocs(5)).ok());
  // Down to one member (forced below the quorum: the operator's decision), then up to two: the
  // new member joins over mTLS with the token.
  Status down = dep.Scale(1);
  ASSERT_TRUE(down.ok()) << down;
  Status up = dep.Scale(2);
  ASSERT_TRUE(up.ok()) << up;
  auto count = dep.Post("/count", DocList());
  ASSERT_TRUE(count.ok()) << count.status();
  ASSERT_EQ(count->size(), 1u);
  EXPECT_EQ((*count)[0].text(), "5");
  // A caller with neither certificate nor token cannot change the members.
  const std::vector<std::vector<std::string>> replicas = dep.replica_addresses();
  RunResult anonymous =
      RunRaft({"remove", "--id", "rep-1", "--via", replicas[0][0], "--timeout", "3000"},
              {"SHOAL_AUTH_TOKEN="});
  EXPECT_EQ(anonymous.exit_code, 1) << anonymous.out;
  RunResult with_certificate =
      RunRaft({"remove", "--id", "rep-9", "--via", "grpcs://" + replicas[0][0], "--ssl-cafile",
               certs.ca(), "--ssl-certfile", certs.client_cert(), "--ssl-keyfile",
               certs.client_key(), "--timeout", "3000"},
              {"SHOAL_AUTH_TOKEN="});
  EXPECT_EQ(with_certificate.exit_code, 1) << with_certificate.out;
  EXPECT_THAT(with_certificate.out, HasSubstr("needs a token"));
}

// --- TLS ---------------------------------------------------------------------------------------

TEST(TlsTest, TlsReplicaAnswersTlsClientsAndRefusesPlaintext) {
  Certificates certs = MakeCertificates("replica");
  auto replica =
      StartExecutor({"--ssl-certfile", certs.server_cert(), "--ssl-keyfile", certs.server_key()});
  ASSERT_NE(replica, nullptr);
  EXPECT_TRUE(PostBothWays(replica->address(), {.ssl_cafile = certs.ca()}).ok()) << replica->Log();
  EXPECT_TRUE(PostBothWays("grpcs://" + replica->address(), {.ssl_cafile = certs.ca()}).ok());
  Status plaintext =
      PostBothWays(replica->address(), {.connect_timeout = std::chrono::milliseconds(0)});
  EXPECT_FALSE(plaintext.ok());
  // A client that does not trust the CA is refused too.
  EXPECT_FALSE(PostBothWays(replica->address(),
                            {.connect_timeout = std::chrono::milliseconds(0), .tls = true})
                   .ok());
}

TEST(TlsTest, MutualTlsReplicaRefusesClientsWithoutACertificate) {
  Certificates certs = MakeCertificates("mtls");
  auto replica = StartExecutor({"--ssl-certfile", certs.server_cert(), "--ssl-keyfile",
                                certs.server_key(), "--ssl-cafile", certs.ca()});
  ASSERT_NE(replica, nullptr);
  EXPECT_FALSE(PostBothWays(replica->address(), {.connect_timeout = std::chrono::milliseconds(0),
                                                 .ssl_cafile = certs.ca()})
                   .ok());
  EXPECT_TRUE(PostBothWays(replica->address(), {.ssl_cafile = certs.ca(),
                                                .ssl_certfile = certs.client_cert(),
                                                .ssl_keyfile = certs.client_key()})
                  .ok())
      << replica->Log();
}

TEST(TlsTest, BadTlsFilesAreErrorsNamingThem) {
  Certificates certs = MakeCertificates("bad-files");
  auto no_key = testing::ChildProcess::Start({testing::ShoalBinary(), "executor", "--uses", "Echo",
                                              "--port", "0", "--ssl-certfile", certs.server_cert()},
                                             false);
  ASSERT_TRUE(no_key.ok());
  EXPECT_EQ((*no_key)->Wait(std::chrono::seconds(20)), 2);
  EXPECT_THAT((*no_key)->Log(), HasSubstr("needs both a certificate file and a private key"));
  auto not_pem = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "executor", "--uses", "Echo", "--port", "0", "--ssl-certfile",
       certs.server_key(), "--ssl-keyfile", certs.server_key()},
      false);
  ASSERT_TRUE(not_pem.ok());
  EXPECT_EQ((*not_pem)->Wait(std::chrono::seconds(20)), 2);
  EXPECT_THAT((*not_pem)->Log(), HasSubstr("server.key' holds no PEM certificate"));
}

TEST(TlsTest, DeploymentWithInternalTlsServesEndToEnd) {
  Certificates certs = MakeCertificates("internal");
  DeploymentOptions options;
  options.name = "internal";
  options.replicas = 2;
  options.internal_tls = {
      .certfile = certs.server_cert(), .keyfile = certs.server_key(), .cafile = certs.ca()};
  options.auth_token = kToken;
  options.shoal_binary = testing::ShoalBinary();
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  auto docs = dep.Post("/foo", TextDocs(6));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->size(), 6u);
  const std::vector<std::vector<std::string>> replicas = dep.replica_addresses();
  for (const std::string& replica : replicas[0]) {
    // Plaintext, and TLS without a client certificate, are refused by the replicas.
    EXPECT_FALSE(PostBothWays(replica, {.connect_timeout = std::chrono::milliseconds(0),
                                        .auth_token = kToken})
                     .ok());
    EXPECT_FALSE(PostBothWays(replica, {.connect_timeout = std::chrono::milliseconds(0),
                                        .auth_token = kToken,
                                        .ssl_cafile = certs.ca()})
                     .ok());
  }
}

TEST(TlsTest, FlowWithSslCertfileServesTlsClients) {
  Certificates certs = MakeCertificates("flow");
  const std::filesystem::path yaml = certs.dir / "flow.yml";
  std::ofstream(yaml) << "jtype: Flow\n"
                         "with:\n"
                         "  host: 127.0.0.1\n"
                         "  ssl_certfile: "
                      << certs.server_cert()
                      << "\n"
                         "  ssl_keyfile: "
                      << certs.server_key()
                      << "\n"
                         "executors:\n"
                         "  - name: echo\n"
                         "    uses: Echo\n";
  auto flow = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", yaml.string(), "--port", "0"}, true,
      std::chrono::seconds(60));
  ASSERT_TRUE(flow.ok()) << flow.status();
  const std::string address = (*flow)->address();
  EXPECT_TRUE(PostBothWays("grpcs://" + address, {.ssl_cafile = certs.ca()}).ok())
      << (*flow)->Log();
  EXPECT_FALSE(PostBothWays(address, {.connect_timeout = std::chrono::milliseconds(0)}).ok());
}

// curl's HTTP status for `curl_args` (-1 when curl could not run or reach the server).
int CurlStatus(const std::string& curl_args) {
  const std::string command =
      "curl -s -o /dev/null -w '%{http_code}' --max-time 10 " + curl_args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[16] = {};
  size_t n = fread(buffer, 1, sizeof(buffer) - 1, pipe);
  pclose(pipe);
  buffer[n] = '\0';
  return n == 0 ? -1 : std::atoi(buffer);
}

// The HTTP front end takes the Flow's ssl_certfile/ssl_keyfile and auth_token as the gRPC one
// does: HTTPS only, and every request needs the bearer token.
TEST(TlsTest, FlowServesHttpsWithTheTokenOverHttpToo) {
  Certificates certs = MakeCertificates("flow-http");
  const std::filesystem::path yaml = certs.dir / "flow.yml";
  std::ofstream(yaml) << "jtype: Flow\n"
                         "with:\n"
                         "  protocol: http\n"
                         "  host: 127.0.0.1\n"
                         "  auth_token: "
                      << kToken
                      << "\n"
                         "  ssl_certfile: "
                      << certs.server_cert()
                      << "\n"
                         "  ssl_keyfile: "
                      << certs.server_key()
                      << "\n"
                         "executors:\n"
                         "  - {name: echo, uses: Echo}\n";
  auto flow = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", yaml.string(), "--port", "0"}, true,
      std::chrono::seconds(60));
  ASSERT_TRUE(flow.ok()) << flow.status();
  const std::string url = "https://" + (*flow)->address() + "/post";
  const std::string body =
      " -H 'Content-Type: application/json' -d '{\"execEndpoint\": \"/x\", \"data\": "
      "[{\"text\": \"hi\"}]}' ";
  const std::string ca = " --cacert " + certs.ca();
  EXPECT_EQ(CurlStatus(ca + body + "-H 'Authorization: Bearer " + kToken + "' " + url), 200)
      << (*flow)->Log();
  EXPECT_EQ(CurlStatus(ca + body + url), 401);
  EXPECT_EQ(CurlStatus(ca + body + "-H 'Authorization: Bearer wrong' " + url), 401);
  // Plain HTTP on the same port gets no answer of the gateway's.
  std::string plain = url;
  plain.replace(0, 5, "http");
  EXPECT_NE(CurlStatus(body + "-H 'Authorization: Bearer " + kToken + "' " + plain), 200);
}

TEST(TlsTest, FlowWithOnlySslCertfileIsAnErrorNamingTheKey) {
  Certificates certs = MakeCertificates("flow-half");
  const std::filesystem::path yaml = certs.dir / "flow.yml";
  std::ofstream(yaml) << "jtype: Flow\n"
                         "with:\n"
                         "  ssl_certfile: "
                      << certs.server_cert()
                      << "\n"
                         "executors:\n"
                         "  - uses: Echo\n";
  auto flow = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", yaml.string(), "--port", "0"}, false);
  ASSERT_TRUE(flow.ok());
  EXPECT_EQ((*flow)->Wait(std::chrono::seconds(20)), 2);
  EXPECT_THAT((*flow)->Log(), HasSubstr("flow.yml:3:"));
  EXPECT_THAT((*flow)->Log(), HasSubstr("ssl_certfile: is given without ssl_keyfile"));
}

}  // namespace
}  // namespace shoal
