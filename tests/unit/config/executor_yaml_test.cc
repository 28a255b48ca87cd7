// Tests of Executor YAML parsing: Jina's layout, the `!ClassName` form, and errors that name
// file:line:column and the key.
#include "src/config/executor_yaml.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace shoal::config {
namespace {

using ::testing::HasSubstr;

using ::shoal::testing::Message;

TEST(ExecutorYamlTest, ParsesJinaLayout) {
  absl::StatusOr<ExecutorYaml> yaml = ParseExecutorYaml(
      "jtype: Greeter\n"
      "with:\n  greeting: hi\n  repeat: 2\n"
      "metas:\n  name: greeter\n  workspace: /tmp/ws\n  py_modules:\n    - greeter.py\n"
      "  description: says hi\n"
      "requests:\n  /hello: greet\n",
      "g.yml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->jtype, "Greeter");
  EXPECT_EQ(yaml->with.fields().at("greeting").string_value(), "hi");
  EXPECT_EQ(yaml->with.fields().at("repeat").number_value(), 2);
  EXPECT_EQ(yaml->name, "greeter");
  EXPECT_EQ(yaml->workspace, "/tmp/ws");
  EXPECT_THAT(yaml->py_modules, ::testing::ElementsAre("greeter.py"));
  EXPECT_THAT(yaml->requests, ::testing::ElementsAre(::testing::Pair("/hello", "greet")));
}

TEST(ExecutorYamlTest, RequestsMustMapEndpointsToMethodNames) {
  EXPECT_THAT(Message(ParseExecutorYaml("jtype: A\nrequests: [greet]\n", "a.yml").status()),
              HasSubstr("a.yml:2:11: key 'requests': expected a map of endpoint to method"));
  EXPECT_THAT(Message(ParseExecutorYaml("jtype: A\nrequests:\n  /x: {m: 1}\n", "a.yml").status()),
              HasSubstr("a.yml:3:7: key 'requests./x': expected a non-empty string"));
}

TEST(ExecutorYamlTest, PyModulesAtTheTopLevelAsAStringOrAList) {
  absl::StatusOr<ExecutorYaml> one =
      ParseExecutorYaml("jtype: Encoder\npy_modules: encoder.py\n", "e.yml");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(one->py_modules, ::testing::ElementsAre("encoder.py"));
  absl::StatusOr<ExecutorYaml> two =
      ParseExecutorYaml("jtype: Encoder\npy_modules:\n  - a.py\n  - b/c.py\n", "e.yml");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_THAT(two->py_modules, ::testing::ElementsAre("a.py", "b/c.py"));
  absl::Status bad = ParseExecutorYaml("jtype: Encoder\npy_modules:\n  x: 1\n", "e.yml").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), ::testing::HasSubstr("e.yml:3"));
  EXPECT_THAT(std::string(bad.message()), ::testing::HasSubstr("py_modules"));
}

TEST(ExecutorYamlTest, WithAndMetasAreOptional) {
  absl::StatusOr<ExecutorYaml> yaml = ParseExecutorYaml("jtype: Echo\nwith:\n", "e.yml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->jtype, "Echo");
  EXPECT_TRUE(yaml->with.fields().empty());
  EXPECT_TRUE(yaml->name.empty());
}

TEST(ExecutorYamlTest, AcceptsClassTag) {
  absl::StatusOr<ExecutorYaml> yaml =
      ParseExecutorYaml("!Greeter\nwith:\n  greeting: yo\n", "g.yml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->jtype, "Greeter");
  EXPECT_EQ(yaml->with.fields().at("greeting").string_value(), "yo");

  // yaml-cpp drops the tag of an empty node, so a bare `!Echo` needs `{}` after it.
  absl::StatusOr<ExecutorYaml> bare = ParseExecutorYaml("!Echo {}", "e.yml");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->jtype, "Echo");
}

TEST(ExecutorYamlTest, ExpandsEnvironmentInWith) {
  setenv("SHOAL_TEST_GREETING", "howdy", 1);
  absl::StatusOr<ExecutorYaml> yaml = ParseExecutorYaml(
      "jtype: Greeter\nwith:\n  greeting: ${{ ENV.SHOAL_TEST_GREETING }}\n", "g.yml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->with.fields().at("greeting").string_value(), "howdy");
}

TEST(ExecutorYamlTest, MalformedYamlNamesFileLineAndColumn) {
  absl::Status status =
      ParseExecutorYaml("jtype: Greeter\nwith:\n  greeting: [hi\n", "bad.yml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), ::testing::ContainsRegex("^bad\\.yml:[0-9]+:[0-9]+: "));
}

TEST(ExecutorYamlTest, NotAMap) {
  absl::Status status = ParseExecutorYaml("- jtype: Echo\n", "list.yml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("list.yml:1:1: top level"));
  EXPECT_THAT(Message(status), HasSubstr("must be a map"));
  EXPECT_EQ(ParseExecutorYaml("", "empty.yml").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExecutorYamlTest, MissingJtype) {
  absl::Status status = ParseExecutorYaml("with:\n  a: 1\n", "nojtype.yml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("nojtype.yml:1:1: key 'jtype': missing"));
}

TEST(ExecutorYamlTest, WithNotAMap) {
  absl::Status status = ParseExecutorYaml("jtype: Echo\nwith: [1, 2]\n", "w.yml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("w.yml:2:7: key 'with': expected a map"));
}

TEST(ExecutorYamlTest, UnknownTopLevelKey) {
  absl::Status status = ParseExecutorYaml("jtype: Echo\nwith: {}\nreplicas: 3\n", "u.yml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("u.yml:3:1: key 'replicas': unknown key"));
  EXPECT_THAT(Message(status), HasSubstr("jtype, with, metas"));
}

TEST(ExecutorYamlTest, JtypeMustBeAString) {
  absl::Status status = ParseExecutorYaml("jtype: [Echo]\n", "j.yml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("j.yml:1:8: key 'jtype'"));
}

TEST(ExecutorYamlTest, TagAndJtypeMustAgree) {
  absl::Status status = ParseExecutorYaml("!Echo\njtype: Sleep\n", "t.yml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("contradicts"));
}

TEST(ExecutorYamlTest, MetasMustBeAMap) {
  absl::Status status = ParseExecutorYaml("jtype: Echo\nmetas: name\n", "m.yml").status();
  EXPECT_THAT(Message(status), HasSubstr("m.yml:2:8: key 'metas': expected a map"));
}

TEST(ExecutorYamlTest, LoadsFromFile) {
  std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "executor_yaml_test_greeter.yml";
  {
    std::ofstream out(path);
    out << "jtype: Greeter\nwith:\n  greeting: hey\n";
  }
  absl::StatusOr<ExecutorYaml> yaml = LoadExecutorYaml(path);
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->jtype, "Greeter");
  std::filesystem::remove(path);

  absl::Status missing = LoadExecutorYaml("/nonexistent/shoal/x.yml").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(missing), HasSubstr("/nonexistent/shoal/x.yml"));
}

TEST(ExecutorYamlTest, FileErrorsNameThePath) {
  std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "executor_yaml_test_bad.yml";
  {
    std::ofstream out(path);
    out << "jtype: Greeter\nwith:\n  greeting: hey\n  greeting: again\n";
  }
  absl::Status status = LoadExecutorYaml(path).status();
  EXPECT_THAT(Message(status), HasSubstr(path.string() + ":4:3: key 'with.greeting'"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace shoal::config
