// Tests of the shared-secret token: the comparison and where a process reads it from.
#include "src/rpc/auth.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace shoal::rpc {
namespace {

using ::testing::HasSubstr;

TEST(AuthTest, TokenMatchesOnlyTheExactBearerValue) {
  EXPECT_TRUE(TokenMatches("Bearer abc", "abc"));
  EXPECT_EQ(BearerValue("abc"), "Bearer abc");
  EXPECT_FALSE(TokenMatches("Bearer abd", "abc"));
  EXPECT_FALSE(TokenMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(TokenMatches("Bearer ab", "abc"));
  EXPECT_TRUE(TokenMatches("bearer abc", "abc"));  // RFC 6750: the scheme in any case
  EXPECT_FALSE(TokenMatches("abc", "abc"));
  EXPECT_FALSE(TokenMatches("Bearer ", ""));  // no token configured never matches
}

TEST(AuthTest, LoadsTheTokenFromAFileOrTheEnvironment) {
  const testing::TempDir tmp("auth-test");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "token") << "from-file  \nsecond line\n";
  std::ofstream(dir / "empty") << "\n";
  setenv(kAuthTokenEnv, "from-env", 1);
  EXPECT_EQ(LoadAuthToken((dir / "token").string()).value_or(""), "from-file");
  EXPECT_EQ(LoadAuthToken("").value_or(""), "from-env");
  StatusOr<std::string> missing = LoadAuthToken((dir / "missing").string());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing' cannot be read"));
  StatusOr<std::string> empty = LoadAuthToken((dir / "empty").string());
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("holds no token"));
  unsetenv(kAuthTokenEnv);
  EXPECT_EQ(LoadAuthToken("").value_or("x"), "");
}

}  // namespace
}  // namespace shoal::rpc
