// Python Executors served by real `shoal executor` processes (tests/python/executors/*.py):
// in-place edits, returned lists, exceptions answered in Jina's shape, errors at start, Executor
// YAML with py_modules, the replica's environment, and a stateful Python Executor through Raft.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "docarray.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "tests/integration/child_process.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Executors(std::string_view file) {
  return (std::filesystem::path(SHOAL_SOURCE_DIR) / "tests" / "python" / "executors" / file)
      .string();
}

std::vector<std::string> ExecutorArgv(std::vector<std::string> args) {
  std::vector<std::string> argv = {
      testing::ShoalBinary(), "executor", "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::unique_ptr<testing::ChildProcess> StartExecutor(std::vector<std::string> args,
                                                     std::vector<std::string> env = {}) {
  auto child = testing::ChildProcess::Start(ExecutorArgv(std::move(args)), true,
                                            std::chrono::seconds(60), std::move(env));
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(child).value() : nullptr;
}

// The text under `tags[key]` (a dict field, as docarray writes `tags`).
std::string Tag(const Doc& doc, const std::string& key) {
  const docarray::NodeProto* tags = doc.node("tags");
  if (tags == nullptr || !tags->has_dict()) return "<no tags>";
  auto it = tags->dict().data().find(key);
  if (it == tags->dict().data().end()) return "<no " + key + ">";
  if (it->second.has_integer()) return std::to_string(it->second.integer());
  return it->second.text();
}

jina::DataRequestProto Request(std::string_view endpoint, int docs, int dim = 0) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id("req-" + std::string(endpoint));
  request.mutable_header()->set_exec_endpoint(std::string(endpoint));
  DocList list(request.mutable_data()->mutable_docs());
  for (int i = 0; i < docs; ++i) {
    Doc doc = list.Add();
    doc.set_id(absl::StrCat("d", i));
    doc.set_text(absl::StrCat("t", i));
    if (dim > 0) {
      std::vector<float> values(dim);
      for (int j = 0; j < dim; ++j) values[j] = static_cast<float>(i * 10 + j);
      doc.set_embedding(values);
    }
  }
  return request;
}

jina::DataRequestProto Send(const testing::ChildProcess& replica,
                            const jina::DataRequestProto& request) {
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateChannel(replica.address(), grpc::InsecureChannelCredentials()));
  jina::DataRequestProto response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status status = stub->process_single_data(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message() << replica.Log();
  return response;
}

DocList DocsOf(jina::DataRequestProto& response) {
  return DocList(response.mutable_data()->mutable_docs()).Clone();
}

TEST(PythonExecutorTest, EchoServesThroughTheReplica) {
  auto replica = StartExecutor({"--uses", Executors("echo.py") + ":Echo", "--name", "py/rep-2"});
  ASSERT_NE(replica, nullptr);
  auto client = Client::Connect(replica->address());
  ASSERT_TRUE(client.ok()) << client.status();
  DocList inputs;
  for (int i = 0; i < 25; ++i) inputs.Add().set_text(absl::StrCat("doc-", i));
  auto docs = client->Post("/anything", inputs, {.request_size = 10, .results_in_order = true});
  ASSERT_TRUE(docs.ok()) << docs.status() << replica->Log();
  ASSERT_EQ(docs->size(), 25u);
  for (size_t i = 0; i < docs->size(); ++i) {
    EXPECT_EQ((*docs)[i].text(), absl::StrCat("doc-", i));
    EXPECT_EQ(Tag((*docs)[i], "served_by"), "py/rep-2");
  }
  EXPECT_THAT(replica->Log(), HasSubstr("Python Executor Echo"));
  // self.logger writes through Shoal's log, with the replica's prefix.
  EXPECT_THAT(replica->Log(), ::testing::ContainsRegex("INFO  py/rep-2@[0-9]+ echoing 10 docs"));
}

// `package.module:Class` imports the module from sys.path (PYTHONPATH).
TEST(PythonExecutorTest, AModuleOnThePythonPath) {
  auto replica = StartExecutor({"--uses", "echo:Echo", "--name", "mod/rep-0"},
                               {"PYTHONPATH=" + Executors("")});
  ASSERT_NE(replica, nullptr);
  jina::DataRequestProto response = Send(*replica, Request("/x", 1));
  DocList docs = DocsOf(response);
  EXPECT_EQ(Tag(docs[0], "served_by"), "mod/rep-0");
}

TEST(PythonExecutorTest, AnInPlaceEmbeddingEditChangesTheAnswer) {
  auto replica = StartExecutor({"--uses", Executors("echo.py") + ":Scale", "--uses-with",
                                R"({"factor": 3})", "--name", "scale/rep-0"});
  ASSERT_NE(replica, nullptr);
  jina::DataRequestProto request = Request("/scale", 2, 4);
  (*request.mutable_parameters()->mutable_fields())["tag"].set_string_value("asked");
  jina::DataRequestProto response = Send(*replica, request);
  ASSERT_EQ(response.header().status().code(), jina::StatusProto::SUCCESS) << replica->Log();
  DocList docs = DocsOf(response);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_THAT(std::vector<float>(docs[0].embedding().begin(), docs[0].embedding().end()),
              ElementsAre(0, 3, 6, 9));
  EXPECT_THAT(std::vector<float>(docs[1].embedding().begin(), docs[1].embedding().end()),
              ElementsAre(30, 33, 36, 39));
  // A returned dict lands under parameters.__results__[<replica>].
  const auto& results = response.parameters().fields().at("__results__").struct_value();
  const auto& mine = results.fields().at("scale/rep-0").struct_value().fields();
  EXPECT_EQ(mine.at("scaled").number_value(), 2);
  EXPECT_EQ(mine.at("factor").number_value(), 3);
  EXPECT_EQ(mine.at("asked").string_value(), "asked");
  // Two reads of an embedding in one call share memory.
  jina::DataRequestProto shares = Send(*replica, Request("/shares", 1, 3));
  EXPECT_EQ(DocsOf(shares)[0].text(), "True");
}

TEST(PythonExecutorTest, AReturnedDocListReplacesTheDocs) {
  auto replica = StartExecutor({"--uses", Executors("echo.py") + ":Replace"});
  ASSERT_NE(replica, nullptr);
  jina::DataRequestProto response = Send(*replica, Request("/replace", 2));
  DocList docs = DocsOf(response);
  ASSERT_EQ(docs.size(), 4u) << replica->Log();
  EXPECT_EQ(docs[0].id(), "d0-new");
  EXPECT_EQ(docs[0].text(), "t0!");
  EXPECT_EQ(docs[1].text(), "extra");
  EXPECT_EQ(docs[2].id(), "d1-new");
  jina::DataRequestProto first = Send(*replica, Request("/first", 3));
  DocList one = DocsOf(first);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id(), "d0");
}

TEST(PythonExecutorTest, AnExceptionAnswersJinasErrorShapeAndTheReplicaKeepsServing) {
  unsetenv("PYTHONUNBUFFERED");  // print() below must be line-buffered by the replica itself
  auto replica = StartExecutor({"--uses", Executors("echo.py") + ":Faulty"});
  ASSERT_NE(replica, nullptr);
  jina::DataRequestProto request = Request("/fail", 1);
  (*request.mutable_parameters()->mutable_fields())["why"].set_string_value("because");
  jina::DataRequestProto response = Send(*replica, request);
  const jina::StatusProto& status = response.header().status();
  EXPECT_EQ(status.code(), jina::StatusProto::ERROR);
  EXPECT_EQ(status.description(), "ValueError('bad input', 'because')");
  EXPECT_EQ(status.exception().name(), "ValueError");
  EXPECT_THAT(status.exception().args(), ElementsAre("bad input", "because"));
  EXPECT_EQ(status.exception().executor(), "Faulty");
  std::string stacks;
  for (const std::string& line : status.exception().stacks()) stacks += line;
  EXPECT_THAT(stacks, HasSubstr("Traceback"));
  EXPECT_THAT(stacks, HasSubstr("raise ValueError('bad input', parameters.get('why'))"));
  EXPECT_THAT(replica->Log(), HasSubstr("ValueError: ('bad input', 'because')"));
  // The next request is served.
  jina::DataRequestProto ok = Send(*replica, Request("/other", 2));
  EXPECT_EQ(ok.header().status().code(), jina::StatusProto::SUCCESS);
  EXPECT_EQ(DocsOf(ok)[1].text(), "fine");
  // print() is written line by line, not held in a buffer.
  bool printed = false;
  for (int i = 0; i < 100 && !printed; ++i) {
    printed = replica->Stdout().find("served 2\n") != std::string::npos;
    if (!printed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(printed) << replica->Stdout();
  // An `async def` endpoint is awaited.
  jina::DataRequestProto awaited = Send(*replica, Request("/async", 1));
  EXPECT_EQ(DocsOf(awaited)[0].text(), "awaited");
}

// Starts `args` expecting the replica to fail before it is ready; returns its log.
std::string FailedStart(std::vector<std::string> args) {
  auto child =
      testing::ChildProcess::Start(ExecutorArgv(std::move(args)), true, std::chrono::seconds(60));
  EXPECT_FALSE(child.ok());
  return child.ok() ? "" : std::string(child.status().message());
}

// A Python endpoint that polls request_cancelled() sees its caller go, and the replica serves the
// next request at once.
TEST(PythonExecutorTest, AnEndpointSeesItsCallerCancel) {
  auto replica = StartExecutor({"--uses", Executors("echo.py") + ":Patient"});
  ASSERT_NE(replica, nullptr);
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext waiting;
  std::thread waiter([&] {
    jina::DataRequestProto request = Request("/wait", 1), response;
    EXPECT_EQ(stub->process_single_data(&waiting, request, &response).error_code(),
              grpc::StatusCode::CANCELLED);
  });
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::ReplicaInfo(replica->address())["processed_requests"] == "1"; }));
  waiting.TryCancel();
  waiter.join();
  jina::DataRequestProto report = Send(*replica, Request("/report", 1));
  ASSERT_EQ(report.data().docs().docs_size(), 1);
  EXPECT_EQ(DocList(report.mutable_data()->mutable_docs())[0].text(), "cancelled");
}

TEST(PythonExecutorTest, ASyntaxErrorFailsTheStartNamingTheFileAndLine) {
  std::string log = FailedStart({"--uses", Executors("syntax_error.py")});
  EXPECT_THAT(log, HasSubstr("syntax_error.py:6: SyntaxError: expected ':'"));
  EXPECT_THAT(log, HasSubstr("def echo(self, docs, **kwargs)"));
}

TEST(PythonExecutorTest, AMissingModuleOrClassFailsTheStart) {
  const testing::TempDir tmp("py-missing");
  std::filesystem::path file = tmp.Write(
      "imports.py", "import os\nimport no_such_module_here\n\nfrom shoal import Executor\n");
  std::string log = FailedStart({"--uses", file.string() + ":Anything"});
  EXPECT_THAT(log, HasSubstr("imports.py:2: ModuleNotFoundError: No module named "
                             "'no_such_module_here'"));
  log = FailedStart({"--uses", Executors("echo.py") + ":Nope"});
  EXPECT_THAT(log, HasSubstr("no class 'Nope'; Executor classes there: Echo, Environ"));
  log = FailedStart({"--uses", Executors("echo.py")});
  EXPECT_THAT(log, HasSubstr("defines several Executors"));
  log = FailedStart({"--uses", (tmp.path() / "absent.py").string()});
  EXPECT_THAT(log, HasSubstr("absent.py: no such file"));
}

TEST(PythonExecutorTest, ExecutorYamlWithPyModules) {
  const testing::TempDir tmp("py-yaml");
  tmp.Write("mine/scale.py",
            "from shoal import Executor, requests\n\n"
            "class Scaler(Executor):\n"
            "    def __init__(self, factor, **kwargs):\n"
            "        super().__init__(**kwargs)\n"
            "        self.factor = factor\n\n"
            "    @requests\n"
            "    def go(self, docs, **kwargs):\n"
            "        for doc in docs:\n"
            "            doc.text = f'{self.metas.name}:{self.factor}'\n");
  std::filesystem::path yaml =
      tmp.Write("mine/exec.yml",
                "jtype: Scaler\nwith:\n  factor: 5\nmetas:\n  name: scaler\npy_modules:\n"
                "  - scale.py\n");
  auto replica = StartExecutor({"--uses", yaml.string()});
  ASSERT_NE(replica, nullptr);
  jina::DataRequestProto response = Send(*replica, Request("/x", 1));
  EXPECT_EQ(DocsOf(response)[0].text(), "scaler:5");
  // uses_with wins over the YAML's `with`.
  auto second = StartExecutor({"--uses", yaml.string(), "--uses-with", R"({"factor": 7})"});
  ASSERT_NE(second, nullptr);
  jina::DataRequestProto again = Send(*second, Request("/x", 1));
  EXPECT_EQ(DocsOf(again)[0].text(), "scaler:7");
}

// The Executor YAML's `requests:` binds endpoints over the class's @requests: /a moves to b(),
// /c is new; a method the class lacks fails the start naming it.
TEST(PythonExecutorTest, ExecutorYamlRequestsBindEndpointsToMethods) {
  const testing::TempDir tmp("py-requests");
  tmp.Write("mine/pick.py",
            "from shoal import Executor, requests\n\n"
            "class Pick(Executor):\n"
            "    @requests(on='/a')\n"
            "    def a(self, docs, **kwargs):\n"
            "        for doc in docs:\n"
            "            doc.text = 'a'\n\n"
            "    def b(self, docs, **kwargs):\n"
            "        for doc in docs:\n"
            "            doc.text = 'b'\n");
  std::filesystem::path yaml =
      tmp.Write("mine/exec.yml", "jtype: Pick\npy_modules: pick.py\nrequests:\n  /a: b\n  /c: a\n");
  auto replica = StartExecutor({"--uses", yaml.string()});
  ASSERT_NE(replica, nullptr);
  jina::DataRequestProto on_a = Send(*replica, Request("/a", 1));
  EXPECT_EQ(DocsOf(on_a)[0].text(), "b") << replica->Log();
  jina::DataRequestProto on_c = Send(*replica, Request("/c", 1));
  EXPECT_EQ(DocsOf(on_c)[0].text(), "a") << replica->Log();

  std::filesystem::path bad =
      tmp.Write("mine/bad.yml", "jtype: Pick\npy_modules: pick.py\nrequests:\n  /a: nope\n");
  EXPECT_THAT(FailedStart({"--uses", bad.string()}), HasSubstr("'nope'"));
}

TEST(PythonExecutorTest, TheEnvironmentAndRuntimeArgsReachTheExecutor) {
  const testing::TempDir tmp("py-env");
  auto replica = StartExecutor({"--uses", Executors("echo.py") + ":Environ", "--name",
                                "enc/shard-1/rep-2", "--workspace", (tmp.path() / "ws").string()},
                               {"CUDA_VISIBLE_DEVICES=3"});
  ASSERT_NE(replica, nullptr);
  jina::DataRequestProto response = Send(*replica, Request("/x", 1));
  DocList docs = DocsOf(response);
  Doc doc = docs[0];
  EXPECT_EQ(Tag(doc, "cuda"), "3");
  EXPECT_EQ(Tag(doc, "name"), "enc");
  EXPECT_EQ(Tag(doc, "replica_id"), "2");
  EXPECT_EQ(Tag(doc, "shard_id"), "1");
  EXPECT_EQ(Tag(doc, "workspace"), (tmp.path() / "ws").string());
  // `import _shoal` found the module built into the binary, not the extension module.
  EXPECT_EQ(doc.node("tags")->dict().data().at("builtin_shoal").boolean(), true);
}

// CUDA_VISIBLE_DEVICES=RR gives each replica its own device before its interpreter starts.
TEST(PythonExecutorTest, EachReplicaSeesItsRoundRobinDevice) {
  setenv("CUDA_TOTAL_DEVICES", "3", 1);  // this machine's GPUs, as nvidia-smi would count them
  DeploymentOptions options;
  options.name = "gpu";
  options.uses = Executors("echo.py") + ":Environ";
  options.replicas = 2;
  options.env = {{"CUDA_VISIBLE_DEVICES", "RR0,2"}};
  options.shoal_binary = testing::ShoalBinary();
  Deployment dep(options);
  Status started = dep.Start();
  ASSERT_TRUE(started.ok()) << started;
  std::vector<std::string> seen;
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) {
    auto client = Client::Connect(address);
    ASSERT_TRUE(client.ok());
    DocList one;
    one.Add();
    auto answer = client->Post("/x", one, {.stream = false});
    ASSERT_TRUE(answer.ok()) << answer.status();
    seen.push_back(Tag((*answer)[0], "cuda") + "@" + Tag((*answer)[0], "replica_id"));
  }
  EXPECT_THAT(seen, ElementsAre("0@0", "2@1"));
}

constexpr char kSnapshottingRaft[] =
    R"({"HeartbeatTimeout": 200, "ElectionTimeout": 200, "LeaderLeaseTimeout": 100,
        "CommitTimeout": 5, "LogLevel": "WARN", "SnapshotThreshold": 16,
        "SnapshotInterval": 1, "TrailingLogs": 4})";

DocList IdDocs(int from, int n) {
  DocList docs;
  for (int i = from; i < from + n; ++i) {
    Doc doc = docs.Add();
    doc.set_id(absl::StrCat("k", i));
    doc.set_text(absl::StrCat("v", i));
  }
  return docs;
}

// The count one replica reports, or "down"/"error".
std::string CountAt(const std::string& address) {
  auto client = Client::Connect(address);
  if (!client.ok()) return "down";
  auto answer = client->Post("/count", DocList(), {.stream = false});
  return answer.ok() && answer->size() == 1 ? std::string((*answer)[0].text()) : "error";
}

bool Converge(const std::vector<std::string>& addresses, const std::string& expected) {
  for (int i = 0; i < 500; ++i) {
    bool all = true;
    for (const std::string& address : addresses) all = all && CountAt(address) == expected;
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

size_t CountFiles(const std::filesystem::path& dir) {
  std::error_code error;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator(dir, error);
       !error && it != std::filesystem::directory_iterator(); ++it) {
    ++n;
  }
  return n;
}

// Writes go through Raft to every replica; a wiped replica comes back through the leader's
// snapshot, which Python's snapshot() wrote and restore() reads.
TEST(PythonExecutorTest, AStatefulPythonExecutorSnapshotsAndRestores) {
  const testing::TempDir tmp("py-stateful");
  DeploymentOptions options;
  options.name = "kv";
  options.uses = Executors("stateful.py") + ":KeyValue";
  options.replicas = 3;
  options.stateful = true;
  options.workspace = tmp.str();
  options.raft_configuration = kSnapshottingRaft;
  options.retries = 30;
  options.shoal_binary = testing::ShoalBinary();
  options.timeout_ready_ms = 60000;
  Deployment dep(options);
  ASSERT_TRUE(dep.Start().ok());
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  // One at a time: writes in flight together share log entries, and the snapshot needs 16.
  ASSERT_TRUE(
      dep.Post("/index", IdDocs(0, 40), {.request_size = 1, .prefetch = 1, .stream = false}).ok());
  ASSERT_TRUE(Converge(addresses, "40"));
  // Every replica has snapshotted (SnapshotInterval is checked every 1 to 2 s), so the log
  // no longer starts at the first write and the wiped replica needs a snapshot.
  auto snapshots = [&](int r) {
    return CountFiles(tmp.path() / "kv" / (absl::StrCat("rep-", r)) / "raft" / "snapshots");
  };
  for (int i = 0; i < 250 && snapshots(0) * snapshots(1) * snapshots(2) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(snapshots(0) * snapshots(1) * snapshots(2), 0u);
  const int pid = dep.replica_pid(0, 2);
  ASSERT_TRUE(testing::RemoveTree(tmp.path() / "kv" / "rep-2"));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(dep.Post("/index", IdDocs(40, 3), {.request_size = 1, .stream = false}).ok());
  EXPECT_TRUE(Converge(addresses, "43"));
  // The restarted replica has the stored documents, texts included.
  auto client = Client::Connect(addresses[2]);
  ASSERT_TRUE(client.ok());
  DocList ask;
  ask.Add().set_id("k7");
  auto got = client->Post("/get", ask, {.stream = false});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].text(), "v7");
}

// The same Executor from a `shoal deployment` YAML: three replicas agree on every write, and a
// wiped replica is rebuilt by Python's restore() from the leader's snapshot.
TEST(PythonExecutorTest, AStatefulPythonDeploymentFromYaml) {
  const testing::TempDir tmp("py-stateful-yaml");
  std::filesystem::path yaml = tmp.Write(
      "dep.yml", "jtype: Deployment\nwith:\n  name: kvy\n  uses: " + Executors("stateful.py") +
                     ":KeyValue\n  replicas: 3\n  stateful: true\n  host: 127.0.0.1\n"
                     "  retries: 30\n"
                     "  workspace: " +
                     tmp.str() +
                     "\n  raft_configuration:\n    HeartbeatTimeout: 200\n"
                     "    ElectionTimeout: 200\n    LeaderLeaseTimeout: 100\n"
                     "    CommitTimeout: 5\n    SnapshotThreshold: 16\n    SnapshotInterval: 1\n"
                     "    TrailingLogs: 4\n");
  auto orchestrator = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "deployment", "--uses", yaml.string(), "--port", "0"}, true,
      std::chrono::seconds(90));
  ASSERT_TRUE(orchestrator.ok()) << orchestrator.status();
  testing::ChildProcess& dep = **orchestrator;
  auto client = Client::Connect(dep.address());
  ASSERT_TRUE(client.ok());
  // One at a time: writes in flight together share log entries, and the snapshot needs 16.
  ASSERT_TRUE(client->Post("/index", IdDocs(0, 40), {.request_size = 1, .prefetch = 1}).ok())
      << dep.Log();
  // Reads go to any replica: six answers in a row (each replica twice) all say 40.
  int agreeing = 0;
  for (int i = 0; i < 500 && agreeing < 6; ++i) {
    agreeing = CountAt(dep.address()) == "40" ? agreeing + 1 : 0;
    if (agreeing == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(agreeing, 6) << dep.Log();
  auto snapshots = [&](int r) {
    return CountFiles(tmp.path() / "kvy" / ("rep-" + std::to_string(r)) / "raft" / "snapshots");
  };
  for (int i = 0; i < 250 && snapshots(0) * snapshots(1) * snapshots(2) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(snapshots(0) * snapshots(1) * snapshots(2), 0u);
  std::smatch pid;
  const std::string log = dep.Log();
  ASSERT_TRUE(std::regex_search(log, pid, std::regex("kvy/rep-2@([0-9]+)"))) << log;
  ASSERT_TRUE(testing::RemoveTree(tmp.path() / "kvy" / "rep-2"));
  ASSERT_EQ(kill(std::stoi(pid[1]), SIGKILL), 0);
  ASSERT_TRUE(client->Post("/index", IdDocs(40, 3), {.request_size = 1}).ok()) << dep.Log();
  // The restarted replica's restore() ran on the snapshot of the first writes.
  const std::regex restored("kvy/rep-2@[0-9]+ [^\\n]*restored 4[0-3] docs");
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    seen = std::regex_search(dep.Log(), restored);
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(seen) << dep.Log();
}

// `uses: echo.py:Echo` in a Deployment YAML and in a Flow YAML is the file next to the YAML, though
// the commands run from another working directory.
TEST(PythonExecutorTest, ARelativeUsesFileIsFoundNextToTheYaml) {
  const testing::TempDir tmp("py-uses-rel");
  std::ifstream source(Executors("echo.py"));
  std::stringstream echo;
  echo << source.rdbuf();
  tmp.Write("conf/echo.py", echo.str());
  ASSERT_NE(std::filesystem::current_path(), tmp.path() / "conf");
  std::filesystem::path dep_yaml =
      tmp.Write("conf/dep.yml",
                "jtype: Deployment\nwith:\n  name: rel\n  uses: echo.py:Echo\n"
                "  host: 127.0.0.1\n");
  auto dep = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "deployment", "--uses", dep_yaml.string(), "--port", "0"}, true,
      std::chrono::seconds(90));
  ASSERT_TRUE(dep.ok()) << dep.status();
  auto client = Client::Connect((*dep)->address());
  ASSERT_TRUE(client.ok()) << client.status();
  DocList one;
  one.Add().set_text("hi");
  auto docs = client->Post("/x", one, {.stream = false});
  ASSERT_TRUE(docs.ok()) << docs.status() << (*dep)->Log();
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_THAT(Tag((*docs)[0], "served_by"), HasSubstr("rel"));

  std::filesystem::path flow_yaml =
      tmp.Write("conf/flow.yml", "jtype: Flow\nexecutors:\n  - {name: frel, uses: echo.py:Echo}\n");
  auto flow = testing::ChildProcess::Start(
      {testing::ShoalBinary(), "flow", "--uses", flow_yaml.string(), "--port", "0"}, true,
      std::chrono::seconds(90));
  ASSERT_TRUE(flow.ok()) << flow.status();
  auto flow_client = Client::Connect((*flow)->address());
  ASSERT_TRUE(flow_client.ok()) << flow_client.status();
  docs = flow_client->Post("/x", one, {.stream = false});
  ASSERT_TRUE(docs.ok()) << docs.status() << (*flow)->Log();
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_THAT(Tag((*docs)[0], "served_by"), HasSubstr("frel"));
}

}  // namespace
}  // namespace shoal
