// Tests of `uses:` classification.
#include "src/config/uses.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace shoal::config {
namespace {

using ::testing::HasSubstr;
using Kind = UsesSpec::Kind;

using ::shoal::testing::Message;

TEST(UsesTest, ClassName) {
  absl::StatusOr<UsesSpec> spec = ParseUses("ExactNNIndexer");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kind, Kind::kClass);
  EXPECT_EQ(spec->path_or_name, "ExactNNIndexer");
}

TEST(UsesTest, Library) {
  absl::StatusOr<UsesSpec> spec = ParseUses("build/examples/libhello_executor.so");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kind, Kind::kLibrary);
  EXPECT_EQ(spec->path_or_name, "build/examples/libhello_executor.so");
  EXPECT_EQ(spec->class_name, "");
}

TEST(UsesTest, LibraryWithClass) {
  absl::StatusOr<UsesSpec> spec = ParseUses("/opt/x/libmany.so:Greeter");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kind, Kind::kLibrary);
  EXPECT_EQ(spec->path_or_name, "/opt/x/libmany.so");
  EXPECT_EQ(spec->class_name, "Greeter");
}

TEST(UsesTest, YamlFile) {
  for (const char* uses : {"config/executor.yml", "executor.yaml"}) {
    absl::StatusOr<UsesSpec> spec = ParseUses(uses);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->kind, Kind::kYaml);
    EXPECT_EQ(spec->path_or_name, uses);
    EXPECT_FALSE(spec->inline_yaml);
  }
}

TEST(UsesTest, InlineYaml) {
  for (const char* uses : {"jtype: Echo\nwith:\n  a: 1\n", "!Echo\nwith: {}"}) {
    absl::StatusOr<UsesSpec> spec = ParseUses(uses);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->kind, Kind::kYaml);
    EXPECT_TRUE(spec->inline_yaml);
    EXPECT_EQ(spec->path_or_name, uses);
  }
}

TEST(UsesTest, HubIsUnimplemented) {
  for (const char* uses : {"jinaai://jina-ai/SimpleIndexer", "jinaai+docker://jina-ai/Enc"}) {
    absl::Status status = ParseUses(uses).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
    EXPECT_EQ(Message(status), std::string("hub executors are not supported: ") + uses);
  }
}

TEST(UsesTest, DockerIsUnimplemented) {
  absl::Status status = ParseUses("docker://jinaai/encoder:latest").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Message(status), HasSubstr("docker://jinaai/encoder:latest"));
}

TEST(UsesTest, PythonExecutors) {
  struct Case {
    const char* uses;
    const char* module;
    const char* class_name;
  };
  for (const Case& c : {Case{"path/to/thing.py", "path/to/thing.py", ""},
                        Case{"x.py:MyExecutor", "x.py", "MyExecutor"},
                        Case{"/abs/dir/x.py:E2", "/abs/dir/x.py", "E2"},
                        Case{"pkg.sub.module:Encoder", "pkg.sub.module", "Encoder"},
                        Case{"module:Encoder", "module", "Encoder"},
                        Case{"/tmp/MyExecutor.cloudpickle", "/tmp/MyExecutor.cloudpickle", ""}}) {
    absl::StatusOr<UsesSpec> spec = ParseUses(c.uses);
    ASSERT_TRUE(spec.ok()) << c.uses << ": " << spec.status();
    EXPECT_EQ(spec->kind, Kind::kPython) << c.uses;
    EXPECT_EQ(spec->path_or_name, c.module);
    EXPECT_EQ(spec->class_name, c.class_name);
  }
}

TEST(UsesTest, AnythingElseIsInvalid) {
  for (const char* uses : {"", "my executor", "path/to/thing.pyc", "lib.so:not a class", "9Lives",
                           "x.py:not a class", "pkg..mod:Class", "a-b:Class"}) {
    absl::Status status = ParseUses(uses).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << uses;
    EXPECT_THAT(Message(status), HasSubstr(uses));
  }
}

}  // namespace
}  // namespace shoal::config
