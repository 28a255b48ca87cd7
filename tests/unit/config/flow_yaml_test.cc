// Tests of Flow YAML parsing and FlowSpec validation: every accepted form of `executors:` items
// (including the scale-out docs' examples), the defaults of `needs`, what Executors inherit from
// `with:`, and errors that name the key or node and file:line:column.
#include "src/config/flow_yaml.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/config/flow_spec.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace shoal::config {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

using ::shoal::testing::Message;

absl::StatusOr<FlowSpec> Parse(std::string_view text) { return ParseFlowYaml(text, "f.yml"); }

// The error of parsing `text` as "f.yml"; fails the test if it parses.
std::string ErrorOf(std::string_view text) {
  absl::StatusOr<FlowSpec> spec = Parse(text);
  EXPECT_FALSE(spec.ok()) << "parsed:\n" << text;
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return Message(spec.status());
}

std::vector<std::string> Names(const FlowSpec& spec) {
  std::vector<std::string> names;
  for (const DeploymentSpec& node : spec.executors) names.push_back(node.name);
  return names;
}

std::map<std::string, std::vector<std::string>> Needs(const FlowSpec& spec) {
  std::map<std::string, std::vector<std::string>> needs;
  for (const DeploymentSpec& node : spec.executors) needs[node.name] = node.needs;
  return needs;
}

using ::shoal::testing::TempDir;

TEST(FlowYamlTest, ParsesTheScaleOutDocsExample) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "executors:\n"
      "- uses: jinaai://jina-ai/CLIPEncoder\n"
      "  install_requirements: True\n"
      "  replicas: 5 \n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "flow");
  EXPECT_THAT(spec->protocols, ElementsAre("grpc"));
  EXPECT_THAT(spec->ports, IsEmpty());
  ASSERT_THAT(spec->executors, SizeIs(1));
  const DeploymentSpec& node = spec->executors[0];
  EXPECT_EQ(node.name, "executor0");
  EXPECT_EQ(node.uses, "jinaai://jina-ai/CLIPEncoder");
  EXPECT_EQ(node.replicas, 5);
  EXPECT_THAT(node.needs, ElementsAre("gateway"));
  EXPECT_THAT(node.warnings,
              ElementsAre(AllOf(StartsWith("f.yml:4:3:"), HasSubstr("'install_requirements'"))));
  EXPECT_THAT(EndNode(*spec), Optional(0u));
}

TEST(FlowYamlTest, ReadsGatewaySettingsUnderWith) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "version: '1'\n"
      "with:\n"
      "  name: search\n"
      "  port: [12345, 12346]\n"
      "  protocol: [GRPC, Http]\n"
      "  host: 127.0.0.1\n"
      "  prefetch: 10\n"
      "  monitoring: true\n"
      "  tracing: true\n"
      "  port_monitoring: 9090\n"
      "  max_docs_per_request: 500\n"
      "executors: []\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->port_monitoring, 9090);
  EXPECT_EQ(spec->max_docs_per_request, 500);
  EXPECT_EQ(spec->name, "search");
  EXPECT_THAT(spec->ports, ElementsAre(12345, 12346));
  EXPECT_THAT(spec->protocols, ElementsAre("grpc", "http"));
  EXPECT_EQ(spec->host, "127.0.0.1");
  EXPECT_EQ(spec->prefetch, 10);
  EXPECT_THAT(spec->executors, IsEmpty());
  EXPECT_THAT(spec->warnings,
              ElementsAre(AllOf(StartsWith("f.yml:9:3:"), HasSubstr("'with.monitoring'")),
                          AllOf(StartsWith("f.yml:10:3:"), HasSubstr("'with.tracing'"))));
  EXPECT_EQ(spec->origin.at("port"), "f.yml:5:9");
  EXPECT_EQ(EndNode(*spec), std::nullopt);
}

TEST(FlowYamlTest, AcceptsPluralAliasesAndOnePort) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "with:\n"
      "  ports: 8080\n"
      "  protocols: HTTP\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->ports, ElementsAre(8080));
  EXPECT_THAT(spec->protocols, ElementsAre("http"));
}

TEST(FlowYamlTest, ReadsTheGatewaySection) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "gateway:\n"
      "  port: 8080\n"
      "  protocol: http\n"
      "  replicas: 2\n"
      "executors:\n"
      "- name: a\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->ports, ElementsAre(8080));
  EXPECT_THAT(spec->protocols, ElementsAre("http"));
  EXPECT_THAT(spec->warnings, ElementsAre(HasSubstr("'gateway.replicas'")));
}

TEST(FlowYamlTest, RejectsAGatewaySettingGivenTwice) {
  std::string error = ErrorOf(
      "jtype: Flow\n"
      "with:\n"
      "  port: 8080\n"
      "gateway:\n"
      "  port: 8081\n");
  EXPECT_THAT(error, AllOf(StartsWith("f.yml:5:9: gateway.port:"), HasSubstr("f.yml:3:9")));
}

TEST(FlowYamlTest, ParsesMapItemsInBothLayouts) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "executors:\n"
      "- name: enc\n"
      "  uses: Encoder\n"
      "  uses_with: {dim: 8}\n"
      "  shards: 2\n"
      "  polling: ALL\n"
      "- jtype: Deployment\n"
      "  with:\n"
      "    name: idx\n"
      "    uses: Indexer\n"
      "    replicas: 3\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Names(*spec), ElementsAre("enc", "idx"));
  EXPECT_EQ(spec->executors[0].uses_with.fields().at("dim").number_value(), 8);
  EXPECT_EQ(spec->executors[0].shards, 2);
  EXPECT_EQ(spec->executors[0].polling_default, "ALL");
  EXPECT_EQ(spec->executors[1].uses, "Indexer");
  EXPECT_EQ(spec->executors[1].replicas, 3);
  EXPECT_EQ(spec->executors[1].origin.at("replicas"), "f.yml:12:15");
  EXPECT_THAT(Needs(*spec), UnorderedElementsAre(Pair("enc", ElementsAre("gateway")),
                                                 Pair("idx", ElementsAre("enc"))));
}

TEST(FlowYamlTest, AcceptsTheDeploymentsAlias) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "deployments:\n"
      "- name: a\n"
      "- name: b\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Names(*spec), ElementsAre("a", "b"));
  EXPECT_THAT(ErrorOf("executors: []\ndeployments: []\n"),
              AllOf(StartsWith("f.yml:2:1: deployments:"), HasSubstr("given twice")));
}

TEST(FlowYamlTest, LoadsPathItemsRelativeToTheFlowFile) {
  TempDir dir("flow-yaml-test");
  ASSERT_FALSE(dir.path().empty());
  dir.Write("deps/enc.yml",
            "jtype: Deployment\n"
            "with:\n"
            "  name: enc\n"
            "  uses: Encoder\n"
            "  replicas: 2\n");
  std::filesystem::path idx = dir.Write("idx.yml", "uses: Indexer\nshards: 2\n");
  const std::string text = "jtype: Flow\nexecutors:\n- deps/enc.yml\n- " + idx.string() + "\n";
  std::filesystem::path flow = dir.Write("flow.yml", text);
  absl::StatusOr<FlowSpec> spec = LoadFlowYaml(flow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Names(*spec), ElementsAre("enc", "executor1"));
  EXPECT_EQ(spec->executors[0].replicas, 2);
  EXPECT_EQ(spec->executors[1].shards, 2);
  EXPECT_THAT(spec->executors[1].needs, ElementsAre("enc"));
  EXPECT_EQ(spec->executors[0].origin.at("replicas"),
            (dir.path() / "deps/enc.yml").string() + ":5:13");
}

// `uses: x.py:Class` in a Flow item is the file next to the Flow YAML; in a Deployment YAML the
// Flow names, the file next to that YAML.
TEST(FlowYamlTest, RelativeUsesFilesResolveAgainstTheirYamlsFolder) {
  TempDir dir("flow-yaml-test");
  ASSERT_FALSE(dir.path().empty());
  dir.Write("flows/enc.py", "");
  dir.Write("flows/deps/idx.py", "");
  dir.Write("flows/deps/idx.yml", "uses: idx.py:Indexer\n");
  std::filesystem::path flow = dir.Write(
      "flows/flow.yml", "executors:\n- {name: enc, uses: enc.py:Encoder}\n- deps/idx.yml\n");
  absl::StatusOr<FlowSpec> spec = LoadFlowYaml(flow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->executors.size(), 2u);
  EXPECT_EQ(spec->executors[0].uses, (dir.path() / "flows" / "enc.py").string() + ":Encoder");
  EXPECT_EQ(spec->executors[1].uses,
            (dir.path() / "flows" / "deps" / "idx.py").string() + ":Indexer");
}

TEST(FlowYamlTest, PathItemErrorsKeepTheirOwnFileAndLine) {
  TempDir dir("flow-yaml-test");
  ASSERT_FALSE(dir.path().empty());
  std::filesystem::path bad = dir.Write("bad.yml", "uses: Encoder\nreplicas: 0\n");
  std::filesystem::path flow = dir.Write("flow.yml", "executors:\n- bad.yml\n- missing.yml\n");
  absl::StatusOr<FlowSpec> spec = LoadFlowYaml(flow);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(Message(spec.status()),
              AllOf(StartsWith(flow.string() + ":2:3: executors[0]: "),
                    HasSubstr(bad.string() + ":2:11: replicas: must be at least 1")));

  dir.Write("bad.yml", "uses: Encoder\n");
  spec = LoadFlowYaml(flow);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(spec.status()),
              AllOf(StartsWith(flow.string() + ":3:3: executors[1]: "), HasSubstr("missing.yml")));
  EXPECT_EQ(LoadFlowYaml(dir.path() / "none.yml").status().code(), absl::StatusCode::kNotFound);
}

TEST(FlowYamlTest, ExpandsEnvironmentVariables) {
  ASSERT_EQ(setenv("SHOAL_FLOW_TEST_PORT", "23456", 1), 0);
  ASSERT_EQ(setenv("SHOAL_FLOW_TEST_USES", "Encoder", 1), 0);
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "with:\n"
      "  port: ${{ ENV.SHOAL_FLOW_TEST_PORT }}\n"
      "executors:\n"
      "- uses: ${{ ENV.SHOAL_FLOW_TEST_USES }}\n"
      "  env: {PORT: '${{ ENV.SHOAL_FLOW_TEST_PORT }}'}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->ports, ElementsAre(23456));
  EXPECT_EQ(spec->executors[0].uses, "Encoder");
  EXPECT_THAT(spec->executors[0].env, ElementsAre(Pair("PORT", "23456")));
  unsetenv("SHOAL_FLOW_TEST_PORT");
  EXPECT_THAT(ErrorOf("with:\n  port: ${{ ENV.SHOAL_FLOW_TEST_PORT }}\n"),
              AllOf(StartsWith("f.yml:2:9:"), HasSubstr("SHOAL_FLOW_TEST_PORT")));
}

TEST(FlowYamlTest, ExecutorsInheritFlowDefaultsUnlessTheySetThem) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "jtype: Flow\n"
      "with:\n"
      "  env: {A: flow-a, B: flow-b}\n"
      "  timeout_send: 100\n"
      "  timeout_ready: 5000\n"
      "  retries: 2\n"
      "  workspace: /tmp/ws\n"
      "  load_balancing: ROUND_ROBIN\n"
      "  grpc_metadata: {token: flow}\n"
      "executors:\n"
      "- name: own\n"
      "  env: {B: own-b, C: own-c}\n"
      "  timeout_send: 7\n"
      "  retries: 0\n"
      "  workspace: /tmp/own\n"
      "  load_balancing: least_loaded\n"
      "  grpc_metadata: {token: own}\n"
      "- name: plain\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const DeploymentSpec& own = spec->executors[0];
  EXPECT_THAT(own.env,
              UnorderedElementsAre(Pair("A", "flow-a"), Pair("B", "own-b"), Pair("C", "own-c")));
  EXPECT_EQ(own.timeout_send_ms, 7);
  EXPECT_EQ(own.timeout_ready_ms, 5000);
  EXPECT_EQ(own.retries, 0);
  EXPECT_EQ(own.workspace, "/tmp/own");
  EXPECT_EQ(own.load_balancing, "least_loaded");
  EXPECT_THAT(own.grpc_metadata, ElementsAre(Pair("token", "own")));
  EXPECT_EQ(own.origin.at("env.A"), "f.yml:3:12");
  EXPECT_EQ(own.origin.at("env.B"), "f.yml:12:12");

  const DeploymentSpec& plain = spec->executors[1];
  EXPECT_THAT(plain.env, UnorderedElementsAre(Pair("A", "flow-a"), Pair("B", "flow-b")));
  EXPECT_EQ(plain.timeout_send_ms, 100);
  EXPECT_EQ(plain.timeout_ready_ms, 5000);
  EXPECT_EQ(plain.retries, 2);
  EXPECT_EQ(plain.workspace, "/tmp/ws");
  EXPECT_EQ(plain.load_balancing, "round_robin");
  EXPECT_THAT(plain.grpc_metadata, ElementsAre(Pair("token", "flow")));
  EXPECT_EQ(plain.origin.at("timeout_send"), "f.yml:4:17");
}

TEST(FlowYamlTest, BadFlowDefaultsPointAtTheFlowLine) {
  EXPECT_THAT(ErrorOf("with:\n  load_balancing: random\nexecutors:\n- name: a\n"),
              AllOf(StartsWith("f.yml:2:19: load_balancing:"), HasSubstr("'random'")));
  EXPECT_THAT(ErrorOf("with:\n  timeout_send: soon\n"),
              AllOf(StartsWith("f.yml:2:17: timeout_send:"), HasSubstr("integer")));
}

TEST(FlowYamlTest, OmittedNeedsFormAChain) {
  absl::StatusOr<FlowSpec> spec = Parse("executors:\n- name: a\n- name: b\n- name: c\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Needs(*spec),
              UnorderedElementsAre(Pair("a", ElementsAre("gateway")), Pair("b", ElementsAre("a")),
                                   Pair("c", ElementsAre("b"))));
  EXPECT_THAT(EndNode(*spec), Optional(2u));
}

TEST(FlowYamlTest, FloatingNodesDoNotBecomeLast) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "executors:\n"
      "- name: a\n"
      "- name: logger\n"
      "  floating: true\n"
      "- name: b\n"
      "- name: audit\n"
      "  floating: true\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Needs(*spec), UnorderedElementsAre(
                                Pair("a", ElementsAre("gateway")), Pair("logger", ElementsAre("a")),
                                Pair("b", ElementsAre("a")), Pair("audit", ElementsAre("b"))));
  EXPECT_THAT(EndNode(*spec), Optional(2u));
}

TEST(FlowYamlTest, ExplicitNeedsDrawADiamond) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "executors:\n"
      "- name: A\n"
      "- name: B\n"
      "  needs: A\n"
      "- name: C\n"
      "  needs: [A]\n"
      "- name: D\n"
      "  needs: [B, C, B]\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Needs(*spec),
              UnorderedElementsAre(Pair("A", ElementsAre("gateway")), Pair("B", ElementsAre("A")),
                                   Pair("C", ElementsAre("A")), Pair("D", ElementsAre("B", "C"))));
  EXPECT_THAT(EndNode(*spec), Optional(3u));
}

TEST(FlowYamlTest, NeedsMethodsJoinNodes) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "executors:\n"
      "- name: a\n"
      "- name: b\n"
      "  needs: gateway\n"
      "- method: needs\n"
      "  needs: [a, b]\n"
      "- name: c\n"
      "  needs: gateway\n"
      "- name: side\n"
      "  needs: gateway\n"
      "  floating: true\n"
      "- name: all\n"
      "  method: needs_all\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Names(*spec), ElementsAre("a", "b", "joiner", "c", "side", "all"));
  EXPECT_THAT(spec->executors[2].needs, ElementsAre("a", "b"));
  EXPECT_EQ(spec->executors[2].uses, "BaseExecutor");
  EXPECT_THAT(spec->executors[5].needs, ElementsAre("joiner", "c"));
  EXPECT_THAT(ErrorOf("executors:\n- name: a\n- method: needs\n  needs: a\n"),
              AllOf(StartsWith("f.yml:4:10: executors[1].needs:"), HasSubstr("at least two")));
  EXPECT_THAT(ErrorOf("executors:\n- name: a\n  method: inspect\n"),
              AllOf(StartsWith("f.yml:3:11: executors[0].method:"), HasSubstr("not supported")));
  EXPECT_THAT(
      ErrorOf("executors:\n- name: a\n  method: ad\n"),
      AllOf(StartsWith("f.yml:3:11: executors[0].method:"), HasSubstr("did you mean 'add'")));
}

TEST(FlowYamlTest, NamesUnnamedItemsAndSkipsGatewayItems) {
  absl::StatusOr<FlowSpec> spec = Parse(
      "executors:\n"
      "- name: gateway\n"
      "  protocol: http\n"
      "- uses: A\n"
      "- uses: B\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Names(*spec), ElementsAre("executor0", "executor1"));
  EXPECT_THAT(spec->warnings, ElementsAre(AllOf(StartsWith("f.yml:2:3: executors[0]:"),
                                                HasSubstr("'gateway' is skipped"))));
}

TEST(FlowYamlTest, RejectsACycle) {
  std::string error = ErrorOf(
      "executors:\n"
      "- name: a\n"
      "  needs: c\n"
      "- name: b\n"
      "  needs: a\n"
      "- name: c\n"
      "  needs: b\n");
  EXPECT_THAT(error, AllOf(StartsWith("f.yml:3:10: executors[0] 'a':"),
                           HasSubstr("needs form a cycle: a -> c -> b -> a")));
}

TEST(FlowYamlTest, RejectsUnknownNeedsWithASuggestion) {
  std::string error = ErrorOf(
      "executors:\n"
      "- name: encoder\n"
      "- name: indexer\n"
      "  needs: [encodr]\n");
  EXPECT_THAT(error, AllOf(StartsWith("f.yml:4:10: executors[1] 'indexer': needs:"),
                           HasSubstr("unknown node 'encodr' (did you mean 'encoder'?)")));
}

TEST(FlowYamlTest, RejectsDuplicateNames) {
  std::string error = ErrorOf(
      "jtype: Flow\n"
      "executors:\n"
      "- name: enc\n"
      "- name: idx\n"
      "- name: enc\n");
  EXPECT_EQ(error, "f.yml:5:9: executors[2]: name 'enc' is used twice (first at f.yml:3:9)");
}

TEST(FlowYamlTest, RejectsANodeNeedingItself) {
  EXPECT_THAT(
      ErrorOf("executors:\n- name: a\n- name: b\n  needs: [a, b]\n"),
      AllOf(StartsWith("f.yml:4:10: executors[1] 'b': needs:"), HasSubstr("'b' needs itself")));
}

TEST(FlowYamlTest, RejectsUnknownKeys) {
  EXPECT_THAT(ErrorOf("with:\n  protocl: http\n"),
              AllOf(StartsWith("f.yml:2:3: with.protocl:"), HasSubstr("did you mean 'protocol'?")));
  EXPECT_THAT(
      ErrorOf("with:\n  frobnicate: 1\n"),
      AllOf(StartsWith("f.yml:2:3: with.frobnicate: unknown Flow key"), HasSubstr("prefetch")));
  EXPECT_THAT(ErrorOf("with:\n  replicas: 2\n"),
              AllOf(StartsWith("f.yml:2:3: with.replicas:"), HasSubstr("per Executor")));
  EXPECT_THAT(ErrorOf("jtype: Flow\nexecutor:\n- name: a\n"),
              AllOf(StartsWith("f.yml:2:1: executor:"), HasSubstr("did you mean 'executors'?")));
  EXPECT_THAT(ErrorOf("jtype: Flow\nport: 80\n"),
              AllOf(StartsWith("f.yml:2:1: port:"), HasSubstr("under with:")));
  EXPECT_THAT(ErrorOf("executors:\n- name: a\n  replcas: 2\n"),
              AllOf(StartsWith("f.yml:3:3: replcas:"), HasSubstr("did you mean 'replicas'?")));
  EXPECT_THAT(ErrorOf("jtype: Deployment\n"),
              AllOf(StartsWith("f.yml:1:8: jtype:"), HasSubstr("expected 'Flow'")));
  EXPECT_THAT(ErrorOf("executors: {a: 1}\n"),
              AllOf(StartsWith("f.yml:1:12: executors:"), HasSubstr("a list")));
}

TEST(FlowYamlTest, RejectsBadProtocolsAndPorts) {
  EXPECT_THAT(
      ErrorOf("with:\n  protocol: websocket\n"),
      AllOf(StartsWith("f.yml:2:13: protocol:"), HasSubstr("'websocket' is not supported")));
  EXPECT_THAT(ErrorOf("with:\n  protocols: [grpc, grcp]\n"),
              AllOf(StartsWith("f.yml:2:14: protocols:"), HasSubstr("unknown protocol 'grcp'")));
  EXPECT_THAT(ErrorOf("with:\n  protocol: [grpc, http]\n  port: 8080\n"),
              AllOf(StartsWith("f.yml:3:9: port:"), HasSubstr("1 port(s) for 2 protocol(s)")));
  EXPECT_THAT(ErrorOf("with:\n  port: 70000\n"),
              AllOf(StartsWith("f.yml:2:9: port:"), HasSubstr("between 1 and 65535")));
  EXPECT_THAT(ErrorOf("with:\n  prefetch: -1\n"), StartsWith("f.yml:2:13: prefetch:"));
  EXPECT_THAT(ErrorOf("with:\n  max_docs_per_request: -1\n"),
              AllOf(StartsWith("f.yml:2:25: max_docs_per_request:"), HasSubstr("0 (no limit)")));
}

TEST(FlowSpecTest, ValidatesSpecsBuiltInCode) {
  FlowSpec spec;
  spec.executors.resize(2);
  spec.executors[0].name = "a";
  spec.executors[0].needs = {"gateway"};
  spec.executors[1].name = "b";
  spec.executors[1].needs = {"a"};
  EXPECT_TRUE(ValidateFlowSpec(spec).ok());

  spec.executors[1].name = "gateway";
  EXPECT_THAT(Message(ValidateFlowSpec(spec)),
              AllOf(StartsWith("executors[1]:"), HasSubstr("reserved")));
  spec.executors[1].name = "a";
  EXPECT_EQ(Message(ValidateFlowSpec(spec)),
            "executors[1]: name 'a' is used twice (first at executors[0])");
  spec.executors[1].name = "b";
  spec.executors[1].needs.clear();
  EXPECT_THAT(Message(ValidateFlowSpec(spec)), HasSubstr("executors[1] 'b': needs: is empty"));
  spec.executors[1].needs = {"a"};
  spec.executors[1].replicas = 0;
  EXPECT_THAT(Message(ValidateFlowSpec(spec)),
              AllOf(StartsWith("executors[1] 'b': replicas:"), HasSubstr("at least 1")));
  spec.executors[1].replicas = 1;
  spec.protocols.clear();
  EXPECT_THAT(Message(ValidateFlowSpec(spec)), StartsWith("protocol: give at least one"));
}

TEST(FlowSpecTest, EndNodeIsTheLastNonFloatingNode) {
  FlowSpec spec;
  EXPECT_EQ(EndNode(spec), std::nullopt);
  spec.executors.resize(3);
  spec.executors[0].floating = true;
  spec.executors[2].floating = true;
  EXPECT_THAT(EndNode(spec), Optional(1u));
  spec.executors[1].floating = true;
  EXPECT_EQ(EndNode(spec), std::nullopt);
}

TEST(FlowYamlTest, YamlKindTellsFlowsFromDeployments) {
  EXPECT_EQ(YamlKind("jtype: Flow\nexecutors: []\n", "f.yml").value_or("?"), "Flow");
  EXPECT_EQ(YamlKind("executors:\n  - {uses: Echo}\n", "f.yml").value_or("?"), "Flow");
  EXPECT_EQ(YamlKind("jtype: Deployment\nwith: {uses: Echo}\n", "f.yml").value_or("?"),
            "Deployment");
  EXPECT_EQ(YamlKind("uses: Echo\nreplicas: 2\n", "f.yml").value_or("?"), "Deployment");
  EXPECT_EQ(YamlKind("!Flow\nexecutors: []\n", "f.yml").value_or("?"), "Flow");
  EXPECT_EQ(YamlKind("jtype: Echo\n", "f.yml").value_or("?"), "Echo");
  EXPECT_THAT(Message(YamlKind("- a\n", "f.yml").status()), HasSubstr("f.yml:1:1"));
  EXPECT_THAT(Message(YamlKind("a: [\n", "f.yml").status()), HasSubstr("f.yml"));
}

// A billion laughs inside uses_with (10^9 scalars from nine levels of ten aliases each): refused
// with the limit named, before anything expands it.
TEST(FlowYamlTest, AnExecutorsPortNeedsOneReplicaAndIsPinnedOnce) {
  absl::StatusOr<FlowSpec> one = Parse("jtype: Flow\nexecutors:\n  - name: a\n    port: 9000\n");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->executors[0].port, 9000);

  EXPECT_EQ(ErrorOf("jtype: Flow\nexecutors:\n  - name: a\n    replicas: 2\n    port: 9000\n"),
            "f.yml:5:11: executors[0] 'a': port: 9000 is the port of the Executor's one replica, "
            "but it has 2 replicas x 1 shards, each listening on a port of its own: remove "
            "`port` or keep one replica");
  EXPECT_THAT(ErrorOf("jtype: Flow\nexecutors:\n  - name: a\n    shards: 2\n    port: 9000\n"),
              HasSubstr("1 replicas x 2 shards"));
  EXPECT_EQ(ErrorOf("jtype: Flow\nexecutors:\n  - name: a\n    port: 9000\n"
                    "  - name: b\n    port: 9000\n"),
            "f.yml:6:11: executors[1] 'b': port: 9000 is also the port of executors[0] 'a'");
  EXPECT_EQ(ErrorOf("jtype: Flow\nwith:\n  port: 9000\nexecutors:\n  - name: a\n    port: 9000\n"),
            "f.yml:6:11: executors[0] 'a': port: 9000 is also the port of the gateway");
  // An external Executor's port is where it is reached, not a replica of ours.
  EXPECT_TRUE(Parse("jtype: Flow\nwith:\n  port: 9000\nexecutors:\n  - name: a\n"
                    "    external: true\n    host: h\n    port: 9000\n")
                  .ok());
}

TEST(FlowYamlTest, AliasExpansionIsBounded) {
  std::string text =
      "jtype: Flow\nexecutors:\n  - name: a\n    uses_with:\n      l0: &l0 \"lol\"\n";
  for (int i = 1; i <= 9; ++i) {
    absl::StrAppend(&text, "      l", i, ": &l", i, " [");
    for (int j = 0; j < 10; ++j) absl::StrAppend(&text, j ? ", *l" : "*l", i - 1);
    absl::StrAppend(&text, "]\n");
  }
  text += "      lol: *l9\n";
  std::string error = ErrorOf(text);
  EXPECT_THAT(error, ::testing::ContainsRegex("^[a-z]+\\.yml:[0-9]+:[0-9]+: "));
  EXPECT_THAT(error, HasSubstr("more than 100000 nodes"));
}

}  // namespace
}  // namespace shoal::config

namespace shoal::config {
namespace {

TEST(FlowYamlTest, GrpcServerOptionsSetTheGatewayLimits) {
  absl::StatusOr<FlowSpec> spec = ParseFlowYaml(
      "jtype: Flow\n"
      "with:\n"
      "  grpc_server_options: {grpc.max_receive_message_length: 1048576}\n"
      "executors:\n"
      "  - name: a\n"
      "    grpc_server_options: {grpc.max_send_message_length: 2048}\n"
      "    max_docs_per_request: 7\n",
      "flow.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->grpc_server_limits.max_receive_message_bytes, 1048576);
  ASSERT_EQ(spec->executors.size(), 1u);
  EXPECT_EQ(spec->executors[0].grpc_server_limits.max_send_message_bytes, 2048);
  EXPECT_EQ(spec->executors[0].max_docs_per_request, 7);
  absl::StatusOr<FlowSpec> bad = ParseFlowYaml(
      "jtype: Flow\nwith:\n  grpc_server_options: {grpc.http2.max_pings_without_data: 0}\n",
      "flow.yml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              ::testing::HasSubstr("with.grpc_server_options.grpc.http2.max_pings_without_data: "
                                   "unknown gRPC server option"));
}

}  // namespace
}  // namespace shoal::config
