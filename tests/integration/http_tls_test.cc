// HTTPS and the bearer token on the HTTP front end, driven by curl: a self-signed certificate
// made here with the openssl CLI, trusted by curl through --cacert.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "tests/integration/http_stack.h"
#include "tests/testing/temp_dir.h"

namespace shoal::gateway {
namespace {

using testing::Curl;
using ::testing::HasSubstr;
using testing::Reply;
using testing::RunCommand;
using testing::ShellQuote;

class HttpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("http-tls");
    dir_ = tmp_->path();
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    RunCommand(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        ShellQuote(key_) + " -out " + ShellQuote(cert_) + " 2>&1");
    ASSERT_TRUE(std::filesystem::exists(cert_) && std::filesystem::exists(key_));
  }
  std::optional<::shoal::testing::TempDir> tmp_;
  std::filesystem::path dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(HttpTlsTest, ServesHttpsWithTheGivenCertificate) {
  auto stack = testing::StartHttpStack("Echo", {.ssl_certfile = cert_, .ssl_keyfile = key_});
  ASSERT_NE(stack, nullptr);
  stack->scheme = "https";
  const std::string trust = "--cacert " + ShellQuote(cert_);
  Reply status = Curl("GET", stack->Url("/status"), "", trust);
  EXPECT_EQ(status.code, 200) << status.body;
  Reply posted = Curl("POST", stack->Url("/post"), R"({"data": [{"text": "over tls"}]})", trust);
  EXPECT_EQ(posted.code, 200) << posted.body;
  EXPECT_THAT(posted.body, HasSubstr("over tls"));
  // Not served in plaintext, and not to a client that does not trust the certificate.
  stack->scheme = "http";
  EXPECT_NE(Curl("GET", stack->Url("/status")).code, 200);
  stack->scheme = "https";
  EXPECT_NE(Curl("GET", stack->Url("/status")).code, 200);
  // The server still serves after those.
  EXPECT_EQ(Curl("GET", stack->Url("/status"), "", trust).code, 200);
}

TEST_F(HttpTlsTest, CertificateOrKeyThatCannotBeLoadedIsAnErrorNamingTheFile) {
  auto stack = testing::StartHttpStack("Echo", {});
  ASSERT_NE(stack, nullptr);
  std::string missing = (dir_ / "missing.pem").string();
  auto no_cert =
      HttpServer::Start(stack->gateway.get(), {.ssl_certfile = missing, .ssl_keyfile = key_});
  ASSERT_FALSE(no_cert.ok());
  EXPECT_THAT(no_cert.status().message(), HasSubstr("ssl_certfile '" + missing + "'"));
  std::string not_pem = (dir_ / "not.pem").string();
  std::ofstream(not_pem) << "not a key\n";
  auto bad_key =
      HttpServer::Start(stack->gateway.get(), {.ssl_certfile = cert_, .ssl_keyfile = not_pem});
  ASSERT_FALSE(bad_key.ok());
  EXPECT_THAT(bad_key.status().message(), HasSubstr("ssl_keyfile '" + not_pem + "'"));
  auto half = HttpServer::Start(stack->gateway.get(), {.ssl_certfile = cert_});
  ASSERT_FALSE(half.ok());
  EXPECT_THAT(half.status().message(), HasSubstr("ssl_keyfile"));
}

TEST(HttpTokenTest, EveryRequestNeedsTheBearerToken) {
  auto stack = testing::StartHttpStack("Echo", {.auth_token = "s3cret-token"});
  ASSERT_NE(stack, nullptr);
  const std::string body = R"({"data": [{"text": "a"}]})";
  for (const std::string header :
       {"", "-H 'Authorization: Bearer wrong'", "-H 'Authorization: Bearer s3cret-toke'",
        "-H 'Authorization: Basic s3cret-token'"}) {
    Reply denied = Curl("POST", stack->Url("/post"), body, header);
    EXPECT_EQ(denied.code, 401) << header;
    EXPECT_EQ(denied.json()["detail"], "Unauthorized") << denied.body;
    EXPECT_EQ(Curl("GET", stack->Url("/status"), "", header).code, 401) << header;
  }
  const std::string good = "-H 'Authorization: Bearer s3cret-token'";
  Reply posted = Curl("POST", stack->Url("/post"), body, good);
  EXPECT_EQ(posted.code, 200) << posted.body;
  EXPECT_EQ(Curl("GET", stack->Url("/status"), "", good).code, 200);
  EXPECT_EQ(Curl("GET", stack->Url("/health"), "", "-H 'authorization: bearer s3cret-token'").code,
            200);
}

}  // namespace
}  // namespace shoal::gateway
