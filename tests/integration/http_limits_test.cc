// The HTTP gateway's limits against hostile clients, end to end (a real replica process, curl):
// docs per request, and request bodies that are declared large and sent slowly.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/http_stack.h"

namespace shoal::gateway {
namespace {

using testing::Curl;
using ::testing::HasSubstr;
using testing::Reply;

// A 3 MB body of a million empty docs drove the gateway past a gigabyte; it is refused while
// parsing, and the gateway keeps serving.
TEST(HttpLimitsTest, MillionEmptyDocsAreRefusedNamingTheLimit) {
  auto stack = testing::StartHttpStack("Echo", {.max_body_bytes = 8 << 20});
  ASSERT_NE(stack, nullptr);
  std::string body = R"({"data": [{})";
  body.reserve(3000020);
  for (int i = 1; i < 1000000; ++i) body += ",{}";
  body += "]}";
  Reply refused = Curl("POST", stack->Url("/index"), body);
  EXPECT_EQ(refused.code, 413) << refused.body.substr(0, 300);
  EXPECT_THAT(refused.body, HasSubstr("more docs than max_docs_per_request (10000)"));
  EXPECT_THAT(refused.body, HasSubstr("max_docs_per_request"));

  Reply served = Curl("POST", stack->Url("/index"), R"({"data": [{"text": "still here"}]})");
  EXPECT_EQ(served.code, 200) << served.body;
  EXPECT_THAT(served.body, HasSubstr("still here"));
}

// A raw connection that sends the head of a POST declaring `declared` body bytes and a little of
// the body, then stalls (a hostile slow client). Closed when destroyed.
class StalledUpload {
 public:
  StalledUpload(int port, size_t declared) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return;
    std::string head =
        "POST /index HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(declared) + "\r\n\r\n{\"data\": [";
    sent_ = send(fd_, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size());
  }
  ~StalledUpload() {
    if (fd_ >= 0) close(fd_);
  }
  bool sent() const { return sent_; }
  // Whether the server closed the connection (or answered) within `timeout`.
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    pollfd p{.fd = fd_, .events = POLLIN};
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (poll(&p, 1, 100) > 0) {
        char chunk[4096];
        ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
        if (n <= 0) return true;
        answer_.append(chunk, static_cast<size_t>(n));
      }
    }
    return false;
  }
  const std::string& answer() const { return answer_; }

 private:
  int fd_ = -1;
  bool sent_ = false;
  std::string answer_;
};

// 16 connections that declare 64 MiB bodies and send them slowly used to reserve the whole
// 1 GiB budget at once, and every other client got 503 until they timed out. The budget is
// taken as bytes arrive: a normal client is served meanwhile.
TEST(HttpLimitsTest, DeclaredButUnsentBodiesDoNotLockOthersOut) {
  auto stack = testing::StartHttpStack(
      "Echo", {.max_body_bytes = 64 << 20, .max_total_body_bytes = size_t{1} << 30});
  ASSERT_NE(stack, nullptr);
  std::vector<std::unique_ptr<StalledUpload>> stalled;
  for (int i = 0; i < 16; ++i) {
    stalled.push_back(std::make_unique<StalledUpload>(stack->server->port(), 64 << 20));
    ASSERT_TRUE(stalled.back()->sent());
  }
  Reply served = Curl("POST", stack->Url("/index"), R"({"data": [{"text": "not locked out"}]})");
  EXPECT_EQ(served.code, 200) << served.body;
  EXPECT_THAT(served.body, HasSubstr("not locked out"));
}

// A body that does not arrive within body_timeout ends its connection.
TEST(HttpLimitsTest, SlowBodiesTimeOut) {
  auto stack = testing::StartHttpStack("Echo", {.body_timeout = absl::Milliseconds(300)});
  ASSERT_NE(stack, nullptr);
  StalledUpload slow(stack->server->port(), 1000);
  ASSERT_TRUE(slow.sent());
  EXPECT_TRUE(slow.ClosedWithin(std::chrono::seconds(20)));
  Reply served = Curl("POST", stack->Url("/index"), R"({"data": [{"text": "a"}]})");
  EXPECT_EQ(served.code, 200) << served.body;
}

// Over max_body_bytes, declared or sent (chunked), the answer is 413 naming the limit.
TEST(HttpLimitsTest, BodiesOverThePerRequestCapAreRefusedNamingIt) {
  auto stack = testing::StartHttpStack("Echo", {.max_body_bytes = 4096});
  ASSERT_NE(stack, nullptr);
  StalledUpload declared(stack->server->port(), 1 << 20);
  ASSERT_TRUE(declared.sent());
  EXPECT_TRUE(declared.ClosedWithin(std::chrono::seconds(20)));
  EXPECT_THAT(declared.answer(), HasSubstr("413"));
  EXPECT_THAT(declared.answer(), HasSubstr("max_body_bytes (4096 bytes)"));
  const std::string big = "{\"data\": [{\"text\": \"" + std::string(8192, 'x') + "\"}]}";
  Reply chunked = Curl("POST", stack->Url("/index"), big, "-H 'Transfer-Encoding: chunked'");
  EXPECT_EQ(chunked.code, 413) << chunked.body.substr(0, 300);
  EXPECT_THAT(chunked.body, HasSubstr("max_body_bytes (4096 bytes)"));
}

}  // namespace
}  // namespace shoal::gateway
