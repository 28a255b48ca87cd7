// Tests of target_executor patterns: Python re.match semantics on RE2, in linear time.
#include "src/gateway/target_pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace shoal::gateway {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<TargetPattern> Compiled(const std::string& pattern) {
  StatusOr<std::unique_ptr<TargetPattern>> compiled = TargetPattern::Compile(pattern);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return compiled.ok() ? std::move(compiled).value() : nullptr;
}

TEST(TargetPatternTest, MatchesAtTheStartLikePythonReMatch) {
  auto enc = Compiled("enc");
  ASSERT_NE(enc, nullptr);
  EXPECT_TRUE(enc->Matches("encoder"));  // a prefix is enough
  EXPECT_TRUE(enc->Matches("enc"));
  EXPECT_FALSE(enc->Matches("my-encoder"));  // but it starts at the start
  EXPECT_FALSE(enc->Matches("en"));
  auto alternatives = Compiled("index|enc.*r$");
  ASSERT_NE(alternatives, nullptr);
  EXPECT_TRUE(alternatives->Matches("indexer"));
  EXPECT_TRUE(alternatives->Matches("encoder"));
  EXPECT_FALSE(alternatives->Matches("encoders"));
  EXPECT_TRUE(Compiled(".*")->Matches(""));
  EXPECT_TRUE(Compiled("\\d+-[a-z]+")->Matches("12-ab/rep-0"));
}

// Backtracking engines take exponential time here (2^40 paths); RE2 answers at once.
TEST(TargetPatternTest, NestedStarPatternsRunInLinearTime) {
  const std::string name(40, 'a');
  auto nested = Compiled("(a|a)*(a*)*(a+)+b");
  ASSERT_NE(nested, nullptr);
  EXPECT_FALSE(nested->Matches(name));
  EXPECT_FALSE(Compiled("((a*)*)*$x")->Matches(name));
  EXPECT_TRUE(Compiled("(a|a)*(a*)*")->Matches(name + "b"));
}

TEST(TargetPatternTest, PatternsRe2CannotRunAreInvalidArgumentsNamingWhy) {
  for (const std::string pattern : {"(a)\\1", "enc(?=oder)", "(?<!x)enc", "(unclosed"}) {
    StatusOr<std::unique_ptr<TargetPattern>> compiled = TargetPattern::Compile(pattern);
    ASSERT_FALSE(compiled.ok()) << pattern;
    EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(compiled.status().message(), HasSubstr("target_executor '" + pattern + "'"));
    EXPECT_THAT(compiled.status().message(), HasSubstr("no backreferences or lookaround"));
  }
  StatusOr<std::unique_ptr<TargetPattern>> long_pattern =
      TargetPattern::Compile(std::string(TargetPattern::kMaxLength + 1, 'a'));
  ASSERT_FALSE(long_pattern.ok());
  EXPECT_THAT(long_pattern.status().message(), HasSubstr("over the limit of 256"));
  // Within the length limit but over RE2's memory budget.
  StatusOr<std::unique_ptr<TargetPattern>> huge = TargetPattern::Compile("((a{100}){100}){100}");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoal::gateway
