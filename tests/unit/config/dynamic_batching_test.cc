// Tests of dynamic batching options in YAML and JSON: every key, and errors that name
// file:line:column and the key.
#include "src/config/dynamic_batching.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/config/deployment_yaml.h"
#include "src/config/executor_yaml.h"
#include "tests/testing/status_matchers.h"

namespace shoal::config {
namespace {

using ::shoal::testing::Message;
using ::testing::HasSubstr;

TEST(DynamicBatchingTest, ExecutorYamlReadsEveryKey) {
  absl::StatusOr<ExecutorYaml> yaml = ParseExecutorYaml(
      "jtype: Encoder\n"
      "dynamic_batching:\n"
      "  /embed: {preferred_batch_size: 32, timeout: 50, flush_all: true,\n"
      "           max_queue_delay: 700, max_batch_size: 64, max_queue_size: 100}\n"
      "  /other: {use_dynamic_batching: false}\n"
      "  /plain:\n",
      "e.yml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  const std::optional<BatchingOptions>& embed = yaml->dynamic_batching.at("/embed");
  ASSERT_TRUE(embed.has_value());
  EXPECT_EQ(embed->preferred_batch_size, 32);
  EXPECT_EQ(embed->timeout_ms, 50);
  EXPECT_TRUE(embed->flush_all);
  EXPECT_EQ(embed->max_queue_delay_us, 700);
  EXPECT_EQ(embed->max_batch_size, 64);
  EXPECT_EQ(embed->max_queue_size, 100);
  EXPECT_FALSE(yaml->dynamic_batching.at("/other").has_value());
  ASSERT_TRUE(yaml->dynamic_batching.at("/plain").has_value());
  EXPECT_EQ(yaml->dynamic_batching.at("/plain")->timeout_ms, 10'000);  // Jina's default
  EXPECT_EQ(yaml->dynamic_batching.at("/plain")->preferred_batch_size, 0);
}

TEST(DynamicBatchingTest, ErrorsNameTheFileLineAndKey) {
  auto error = [](const std::string& body) {
    return Message(ParseExecutorYaml("jtype: E\ndynamic_batching:\n" + body, "e.yml").status());
  };
  EXPECT_THAT(error("  /embed: {preferred_batch_sise: 3}\n"),
              HasSubstr("e.yml:3:12: key 'dynamic_batching./embed.preferred_batch_sise': "
                        "unknown key; expected one of: preferred_batch_size, timeout"));
  EXPECT_THAT(error("  /embed: {preferred_batch_size: 0}\n"),
              HasSubstr("e.yml:3:34: dynamic_batching./embed.preferred_batch_size: must be > 0"));
  EXPECT_THAT(error("  /embed: {timeout: -5}\n"),
              HasSubstr("e.yml:3:21: dynamic_batching./embed.timeout: must be > 0, got -5"));
  EXPECT_THAT(error("  /embed: {max_batch_size: big}\n"),
              HasSubstr("dynamic_batching./embed.max_batch_size"));
  EXPECT_THAT(error("  /embed: {flush_all: 3}\n"), HasSubstr("dynamic_batching./embed.flush_all"));
  EXPECT_THAT(error("  /embed: {custom_metric: len}\n"), HasSubstr("not supported"));
  EXPECT_THAT(error("  embed: {timeout: 5}\n"), HasSubstr("'embed' is not an endpoint"));
  EXPECT_THAT(error("  /embed: 5\n"), HasSubstr("e.yml:3:11: key 'dynamic_batching./embed'"));
  EXPECT_THAT(error("  [a]\n"), HasSubstr("expected a map of endpoint to options"));
}

TEST(DynamicBatchingTest, DeploymentYamlReadsUsesDynamicBatching) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\nwith:\n  uses: Echo\n"
      "  uses_dynamic_batching: {/embed: {preferred_batch_size: 8, timeout: 20}}\n",
      "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->uses_dynamic_batching.at("/embed")->preferred_batch_size, 8);
  EXPECT_THAT(spec->warnings, ::testing::IsEmpty());
  EXPECT_THAT(ReplicaLimitFlags(*spec), ::testing::Contains("--uses-dynamic-batching"));

  EXPECT_THAT(Message(ParseDeploymentYaml("jtype: Deployment\nwith:\n  uses: Echo\n"
                                          "  uses_dynamic_batching: {/embed: {size: 8}}\n",
                                          "d.yml")
                          .status()),
              HasSubstr("d.yml:4:36: key 'uses_dynamic_batching./embed.size': unknown key"));
}

TEST(DynamicBatchingTest, JsonRoundTrips) {
  DynamicBatchingTable table;
  table["/embed"] = BatchingOptions{.preferred_batch_size = 4,
                                    .timeout_ms = 7,
                                    .flush_all = true,
                                    .max_queue_delay_us = 9,
                                    .max_batch_size = 5,
                                    .max_queue_size = 6};
  table["/off"] = std::nullopt;
  absl::StatusOr<DynamicBatchingTable> back =
      ParseDynamicBatchingJson(DynamicBatchingToJson(table), "--uses-dynamic-batching");
  ASSERT_TRUE(back.ok()) << back.status();
  const BatchingOptions& embed = *back->at("/embed");
  EXPECT_EQ(embed.preferred_batch_size, 4);
  EXPECT_EQ(embed.timeout_ms, 7);
  EXPECT_TRUE(embed.flush_all);
  EXPECT_EQ(embed.max_queue_delay_us, 9);
  EXPECT_EQ(embed.max_batch_size, 5);
  EXPECT_EQ(embed.max_queue_size, 6);
  EXPECT_FALSE(back->at("/off").has_value());
  EXPECT_THAT(
      Message(ParseDynamicBatchingJson(R"({"/e": {"timeout": "soon"}})", "--flag").status()),
      HasSubstr("--flag"));
}

}  // namespace
}  // namespace shoal::config
