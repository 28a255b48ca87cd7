// Tests of the exporters' YAML writer: every string reads back (with yaml-cpp) as the same
// string, never as a number, bool or null; layout of maps, lists and literal blocks.
#include "src/export/yaml_writer.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace shoal::exporter {
namespace {

// yaml-cpp resolves tags lazily: a plain scalar reads as a bool/int only when asked for one, so
// the check is the one YAML 1.1 readers (PyYAML in docker-compose) apply: plain or not.
bool IsQuoted(const std::string& emitted) {
  return emitted.front() == '\'' || emitted.front() == '"';
}

TEST(YamlWriterTest, StringsThatReadAsOtherTypesAreQuoted) {
  for (const char* text :
       {"true",  "False",  "yes",  "NO",     "on",   "off", "y",    "n",      "null", "~",
        "8080",  "0",      "1.5",  "1e3",    "0x1F", "-1",  ".inf", ".nan",   "",     "-",
        "*",     "&a",     "!tag", "#x",     "a: b", "x:",  "[1]",  "{a: 1}", "@x",   "%x",
        " lead", "trail ", "'q'",  "\"dq\"", "|",    ">",   "---",  "-.5",    "- x"}) {
    const std::string quoted = QuoteYamlString(text);
    EXPECT_TRUE(IsQuoted(quoted)) << text;
    // Read back: the same text, and yaml-cpp's non-specific tag "!" (a quoted scalar, so no
    // reader resolves it to another type).
    YAML::Node parsed = YAML::Load("k: " + quoted)["k"];
    EXPECT_EQ(parsed.as<std::string>(), text);
    EXPECT_EQ(parsed.Tag(), "!") << text;
  }
}

TEST(YamlWriterTest, PlainStringsStayPlain) {
  for (const char* text : {"shoal", "my-enc", "nvidia.com/gpu", "dns:///a.b.svc:8080",
                           "$(POD_NAME)", "/etc/shoal/flow.yml", "ExactNNIndexer", "a=b:1,c=d:2",
                           "app.kubernetes.io/name", "None", "--port", "-v"}) {
    EXPECT_EQ(QuoteYamlString(text), text);
  }
}

TEST(YamlWriterTest, EveryStringReadsBackUnchanged) {
  const std::vector<std::string> texts = {
      "true",      "8080",        "it's",     "{\"metric\":\"cosine\",\"ms\":1}",
      "tab\there", "a\nb",        "line\n",   "two\nlines\n",
      "ctrl\x01",  "back\\slash", "quote\"d", "ünïcode",
      "",          "x: y",        "- item",   "# not a comment",
      "a #b",      "null",        "~"};
  YamlNode root;
  for (size_t i = 0; i < texts.size(); ++i) root.Set("k" + std::to_string(i), texts[i]);
  const std::string emitted = root.Emit();
  YAML::Node parsed = YAML::Load(emitted);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(parsed["k" + std::to_string(i)].as<std::string>(), texts[i]) << emitted;
  }
}

TEST(YamlWriterTest, BlockLayout) {
  YamlNode container;
  container.Set("name", "executor");
  container.Set("args", YamlNode::StringList({"executor", "--port", "8080"}));
  YamlNode containers = YamlNode::EmptyList();
  containers.Add(std::move(container));
  YamlNode spec;
  spec.Set("replicas", 3);
  spec.Set("paused", false);
  spec.Set("containers", std::move(containers));
  spec.Set("empty", YamlNode());
  spec.Set("none", YamlNode::EmptyList());
  YamlNode root;
  root.Set("spec", std::move(spec));
  EXPECT_EQ(root.Emit(),
            "spec:\n"
            "  replicas: 3\n"
            "  paused: false\n"
            "  containers:\n"
            "    - name: executor\n"
            "      args:\n"
            "        - executor\n"
            "        - --port\n"
            "        - '8080'\n"
            "  empty: {}\n"
            "  none: []\n");
}

TEST(YamlWriterTest, MultiLineTextIsALiteralBlock) {
  YamlNode data;
  data.Set("flow.yml", "jtype: Flow\nwith:\n  name: f\n\nexecutors: []\n");
  data.Set("no_newline", "a\nb");
  const std::string emitted = data.Emit();
  EXPECT_EQ(emitted,
            "flow.yml: |\n"
            "  jtype: Flow\n"
            "  with:\n"
            "    name: f\n"
            "\n"
            "  executors: []\n"
            "no_newline: |-\n"
            "  a\n"
            "  b\n");
  YAML::Node parsed = YAML::Load(emitted);
  EXPECT_EQ(parsed["flow.yml"].as<std::string>(),
            "jtype: Flow\nwith:\n  name: f\n\nexecutors: []\n");
  EXPECT_EQ(parsed["no_newline"].as<std::string>(), "a\nb");
}

TEST(YamlWriterTest, SetReplacesAKeyInPlace) {
  YamlNode map;
  map.Set("a", 1).Set("b", 2).Set("a", 3);
  EXPECT_EQ(map.Emit(), "a: 3\nb: 2\n");
}

}  // namespace
}  // namespace shoal::exporter
