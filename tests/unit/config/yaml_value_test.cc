// Tests of YAML -> google.protobuf.Value conversion: scalar typing, nesting, `${{ ENV.VAR }}`
// expansion and the file:line:column in errors.
#include "src/config/yaml_value.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/strings.h"
#include "tests/testing/status_matchers.h"

namespace shoal::config {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::HasSubstr;

using ::shoal::testing::Message;

Struct ToStruct(std::string_view text) {
  absl::StatusOr<YAML::Node> node = ParseYaml(text, "t.yml");
  EXPECT_TRUE(node.ok()) << node.status();
  if (!node.ok()) return Struct();
  absl::StatusOr<Struct> object = YamlToStruct(*node, "t.yml", "");
  EXPECT_TRUE(object.ok()) << object.status();
  return object.ok() ? *object : Struct();
}

absl::Status StructError(std::string_view text) {
  absl::StatusOr<YAML::Node> node = ParseYaml(text, "t.yml");
  if (!node.ok()) return node.status();
  return YamlToStruct(*node, "t.yml", "").status();
}

const Value& Field(const Struct& object, const std::string& key) {
  static const Value* const missing = new Value();
  auto it = object.fields().find(key);
  EXPECT_NE(it, object.fields().end()) << key;
  return it == object.fields().end() ? *missing : it->second;
}

TEST(YamlValueTest, PlainScalarsAreTyped) {
  Struct s = ToStruct(
      "t: true\nf: False\nint: 42\nneg: -3\nfloat: 2.5e3\nhex: 0x1F\noct: 0o17\n"
      "tilde: ~\nnull_word: null\nempty:\ntext: hello world\nversion: 1.2.3\n"
      "inf: -.inf\n");
  EXPECT_TRUE(Field(s, "t").bool_value());
  EXPECT_TRUE(Field(s, "f").has_bool_value());
  EXPECT_FALSE(Field(s, "f").bool_value());
  EXPECT_EQ(Field(s, "int").number_value(), 42);
  EXPECT_EQ(Field(s, "neg").number_value(), -3);
  EXPECT_EQ(Field(s, "float").number_value(), 2500);
  EXPECT_EQ(Field(s, "hex").number_value(), 31);
  EXPECT_EQ(Field(s, "oct").number_value(), 15);
  EXPECT_TRUE(Field(s, "tilde").has_null_value());
  EXPECT_TRUE(Field(s, "null_word").has_null_value());
  EXPECT_TRUE(Field(s, "empty").has_null_value());
  EXPECT_EQ(Field(s, "text").string_value(), "hello world");
  EXPECT_EQ(Field(s, "version").string_value(), "1.2.3");
  EXPECT_TRUE(std::isinf(Field(s, "inf").number_value()));
}

TEST(YamlValueTest, QuotedAndStrTaggedScalarsStayStrings) {
  Struct s = ToStruct("a: 'true'\nb: \"42\"\nc: !!str 7\nd: 'null'\n");
  EXPECT_EQ(Field(s, "a").string_value(), "true");
  EXPECT_EQ(Field(s, "b").string_value(), "42");
  EXPECT_EQ(Field(s, "c").string_value(), "7");
  EXPECT_EQ(Field(s, "d").string_value(), "null");
}

TEST(YamlValueTest, MapsAndSequencesNest) {
  Struct s = ToStruct("outer:\n  list: [1, two, {three: 3}]\n  inner: {k: v}\n");
  const Struct& outer = Field(s, "outer").struct_value();
  const auto& list = Field(outer, "list").list_value();
  ASSERT_EQ(list.values_size(), 3);
  EXPECT_EQ(list.values(0).number_value(), 1);
  EXPECT_EQ(list.values(1).string_value(), "two");
  EXPECT_EQ(Field(list.values(2).struct_value(), "three").number_value(), 3);
  EXPECT_EQ(Field(Field(outer, "inner").struct_value(), "k").string_value(), "v");
}

TEST(YamlValueTest, ExpandsEnvironmentVariables) {
  setenv("SHOAL_TEST_NAME", "world", 1);
  setenv("SHOAL_TEST_PORT", "8080", 1);
  Struct s = ToStruct(
      "a: hello ${{ ENV.SHOAL_TEST_NAME }}!\nb: ${{ENV.SHOAL_TEST_NAME}}\n"
      "port: ${{ ENV.SHOAL_TEST_PORT }}\nquoted: '${{ ENV.SHOAL_TEST_PORT }}'\n"
      "bare: ${{ SHOAL_TEST_NAME }}\n");
  EXPECT_EQ(Field(s, "a").string_value(), "hello world!");
  EXPECT_EQ(Field(s, "b").string_value(), "world");
  EXPECT_EQ(Field(s, "port").number_value(), 8080);
  EXPECT_EQ(Field(s, "quoted").string_value(), "8080");
  EXPECT_EQ(Field(s, "bare").string_value(), "world");
}

TEST(YamlValueTest, UnsetVariableNamesItLocationAndKey) {
  unsetenv("SHOAL_TEST_UNSET");
  absl::Status status = StructError("with:\n  model: ${{ ENV.SHOAL_TEST_UNSET }}\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("t.yml:2:10"));
  EXPECT_THAT(Message(status), HasSubstr("with.model"));
  EXPECT_THAT(Message(status), HasSubstr("'SHOAL_TEST_UNSET' is not set"));
}

TEST(YamlValueTest, ExpandEnvVarsRejectsMalformedSubstitutions) {
  EXPECT_EQ(ExpandEnvVars("${{ ENV.X").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(ExpandEnvVars("${{ CONTEXT.x }}").status()), HasSubstr("CONTEXT.x"));
  EXPECT_EQ(*ExpandEnvVars("no substitution $HOME"), "no substitution $HOME");
}

TEST(YamlValueTest, SyntaxErrorNamesFileLineAndColumn) {
  absl::Status status = StructError("a: 1\nb: [1, 2\nc: 3\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), ::testing::StartsWith("t.yml:"));
  EXPECT_THAT(Message(status), ::testing::ContainsRegex("^t\\.yml:[0-9]+:[0-9]+: "));
}

TEST(YamlValueTest, DuplicateKeyIsAnError) {
  absl::Status status = StructError("a: 1\nb:\n  x: 1\n  x: 2\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("t.yml:4:3"));
  EXPECT_THAT(Message(status), HasSubstr("'b.x': duplicate key"));
}

TEST(YamlValueTest, StructOfNonMapIsAnError) {
  absl::Status status = StructError("- 1\n- 2\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("t.yml:1:1: top level: expected a map"));
}

TEST(YamlValueTest, SequenceItemsAreNamedByIndex) {
  unsetenv("SHOAL_TEST_UNSET");
  absl::Status status = StructError("items:\n  - ok\n  - ${{ ENV.SHOAL_TEST_UNSET }}\n");
  EXPECT_THAT(Message(status), HasSubstr("t.yml:3:5"));
  EXPECT_THAT(Message(status), HasSubstr("'items[1]'"));
}

TEST(YamlValueTest, MultipleDocumentsAreAnError) {
  absl::StatusOr<YAML::Node> node = ParseYaml("a: 1\n---\nb: 2\n", "t.yml");
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(node.status()), HasSubstr("expected one YAML document"));
}

TEST(YamlValueTest, CoreTagsAreEnforced) {
  absl::Status status = StructError("n: !!int abc\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("not a number"));
}

// "Billion laughs": each level is a list of ten aliases of the level before, so `levels` levels
// expand to 10^levels scalars from a few hundred bytes of text.
std::string BillionLaughs(int levels) {
  std::string text = "l0: &l0 \"lol\"\n";
  for (int i = 1; i <= levels; ++i) {
    absl::StrAppend(&text, "l", i, ": &l", i, " [");
    for (int j = 0; j < 10; ++j) absl::StrAppend(&text, j ? ", *l" : "*l", i - 1);
    absl::StrAppend(&text, "]\n");
  }
  return absl::StrCat(text, "lol: *l", levels, "\n");
}

TEST(YamlValueTest, AliasExpansionIsBoundedWithTheLimitNamed) {
  absl::StatusOr<YAML::Node> node = ParseYaml(BillionLaughs(9), "t.yml");
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(node.status()), ::testing::ContainsRegex("^t\\.yml:[0-9]+:[0-9]+: "));
  EXPECT_THAT(Message(node.status()),
              HasSubstr(absl::StrFormat("more than %d nodes", kMaxYamlNodes)));
  EXPECT_THAT(Message(node.status()), HasSubstr("aliases"));
}

TEST(YamlValueTest, AliasesWithinTheLimitExpand) {
  Struct object = ToStruct(BillionLaughs(3));
  EXPECT_EQ(Field(object, "lol").list_value().values_size(), 10);
  const Value& innermost =
      Field(object, "lol").list_value().values(9).list_value().values(9).list_value().values(9);
  EXPECT_EQ(innermost.string_value(), "lol");
}

TEST(YamlValueTest, ExpandedTextIsBounded) {
  // 1 MiB scalar used 100 times: 100 MiB of text from a 1 MiB file.
  std::string text = absl::StrCat("big: &big \"", std::string(1 << 20, 'x'), "\"\nuses: [");
  for (int i = 0; i < 100; ++i) absl::StrAppend(&text, i ? ", *big" : "*big");
  absl::StrAppend(&text, "]\n");
  absl::StatusOr<YAML::Node> node = ParseYaml(text, "t.yml");
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(node.status()), HasSubstr("t.yml:"));
  EXPECT_THAT(Message(node.status()), HasSubstr("uses["));
  EXPECT_THAT(Message(node.status()),
              HasSubstr(absl::StrFormat("more than %d bytes", kMaxYamlTextBytes)));
}

TEST(YamlValueTest, NestingDepthIsBounded) {
  std::string text = absl::StrCat("a: ", std::string(200, '['), std::string(200, ']'), "\n");
  absl::StatusOr<YAML::Node> node = ParseYaml(text, "t.yml");
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(node.status()), HasSubstr("t.yml:1:"));
  EXPECT_THAT(Message(node.status()),
              HasSubstr(absl::StrFormat("nested more than %d levels", kMaxYamlDepth)));
}

TEST(YamlValueTest, NestingTooDeepForTheParserIsNamed) {
  std::string text =
      absl::StrCat("a: ", std::string(100'000, '['), std::string(100'000, ']'), "\n");
  absl::StatusOr<YAML::Node> node = ParseYaml(text, "t.yml");
  ASSERT_FALSE(node.ok());
  EXPECT_THAT(Message(node.status()), HasSubstr("t.yml:1:"));
  EXPECT_THAT(Message(node.status()),
              HasSubstr(absl::StrFormat("nested more than %d levels", kMaxYamlDepth)));
}

// yaml-cpp's LoadAll never ends on these (endless empty documents until std::bad_alloc).
TEST(YamlValueTest, StrayCommaAtTopLevelIsAnError) {
  for (std::string_view text : {",a\n", ",", "a: 1\n---\n,\n"}) {
    absl::StatusOr<YAML::Node> node = ParseYaml(text, "t.yml");
    ASSERT_FALSE(node.ok()) << text;
    EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(node.status()), ::testing::ContainsRegex("^t\\.yml:[0-9]+:[0-9]+: "));
  }
  EXPECT_THAT(Message(ParseYaml(",jtype: Flow\n", "t.yml").status()),
              HasSubstr("t.yml:1:1: top level: unexpected ',' outside any collection"));
}

TEST(YamlValueTest, FilesAreReadUpToALimit) {
  absl::StatusOr<std::string> endless = ReadYamlFile("/dev/zero", "Flow YAML");
  EXPECT_EQ(endless.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(endless.status()),
              HasSubstr(absl::StrFormat("Flow YAML '/dev/zero' is larger than %d bytes",
                                        kMaxYamlFileBytes)));
  EXPECT_EQ(ReadYamlFile("/nonexistent/f.yml", "Flow YAML").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(YamlValueTest, AliasOfItselfIsAnError) {
  absl::StatusOr<YAML::Node> node = ParseYaml("a: &a [1, *a]\n", "t.yml");
  if (node.ok()) {
    // yaml-cpp may refuse the alias itself; if it builds a cycle, the walk must stop.
    EXPECT_FALSE(YamlToStruct(*node, "t.yml", "").ok());
  } else {
    EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

Value FromYaml(std::string_view text) {
  return Field(ToStruct(absl::StrCat("v: ", AsAbsl(text), "\n")), "v");
}

TEST(YamlValueTest, ScalarReadersAcceptTheirTypeOrItsText) {
  EXPECT_EQ(*ValueToInt(FromYaml("8080"), "f:1:1", "port"), 8080);
  EXPECT_EQ(*ValueToInt(FromYaml("'8080'"), "f:1:1", "port"), 8080);
  EXPECT_EQ(*ValueToBool(FromYaml("'True'"), "f:1:1", "tls"), true);
  EXPECT_EQ(*ValueToString(FromYaml("abc"), "f:1:1", "name"), "abc");
  absl::StatusOr<int> fraction = ValueToInt(FromYaml("1.5"), "f:1:1", "port");
  EXPECT_EQ(Message(fraction.status()), "f:1:1: port: expected an integer, got 1.5");
  EXPECT_EQ(Message(ValueToBool(FromYaml("yes please"), "f:2:3", "tls").status()),
            "f:2:3: tls: expected true or false, got 'yes please'");
  EXPECT_EQ(Message(ValueToString(FromYaml("[a]"), "f:1:1", "name").status()),
            "f:1:1: name: expected a string, got a list");
}

TEST(YamlValueTest, StringListSplitsCommasAndTakesNumbersOnlyWhenAsked) {
  using Items = std::vector<std::string>;
  EXPECT_EQ(*ValueToStringList(FromYaml("'a, b'"), "f:1:1", "k"), Items{"a, b"});
  EXPECT_EQ(*ValueToStringList(FromYaml("'a, b'"), "f:1:1", "k", {.split_commas = true}),
            (Items{"a", "b"}));
  EXPECT_EQ(*ValueToStringList(FromYaml("~"), "f:1:1", "k"), Items{});
  EXPECT_EQ(*ValueToStringList(FromYaml("[1, 'x,y']"), "f:1:1", "k",
                               {.split_commas = true, .numbers = true}),
            (Items{"1", "x", "y"}));
  EXPECT_FALSE(ValueToStringList(FromYaml("[1]"), "f:1:1", "k").ok());
  EXPECT_EQ(
      Message(ValueToStringList(FromYaml("'a,,b'"), "f:1:1", "k", {.split_commas = true}).status()),
      "f:1:1: k: empty entry in 'a,,b'");
}

}  // namespace
}  // namespace shoal::config
