// Tests of shoal::Client against the in-process fake Jina server: both transports, ordering,
// prefetch, callbacks, Executor errors, retries, timeouts and health checks.
#include "shoal/client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_jina_server.h"

namespace shoal {
namespace {

using ::shoal::testing::FakeJinaServer;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

DocList MakeDocs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) docs.Add().set_text(absl::StrCat("doc ", i));
  return docs;
}

std::vector<std::string> Texts(const DocList& docs) {
  std::vector<std::string> texts;
  for (Doc doc : docs) texts.emplace_back(doc.text());
  return texts;
}

// The number in "doc <n>" of a request's first doc.
int FirstDocNumber(const jina::DataRequestProto& request) {
  const auto& docs = request.data().docs().docs();
  if (docs.empty()) return -1;
  auto it = docs[0].data().find("text");
  if (it == docs[0].data().end()) return -1;
  return std::stoi(it->second.text().substr(4));
}

class ClientTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto server = FakeJinaServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto client = Client::Connect(server_->address());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::make_unique<Client>(std::move(*client));
  }
  // The transport under test: true for the Call stream, false for unary calls.
  bool stream() const { return GetParam(); }
  PostOptions Options() const {
    PostOptions options;
    options.stream = stream();
    return options;
  }

  std::unique_ptr<FakeJinaServer> server_;
  std::unique_ptr<Client> client_;
};

INSTANTIATE_TEST_SUITE_P(Transports, ClientTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Stream" : "Unary"; });

TEST_P(ClientTest, ReturnsTheDocsOfEveryRequest) {
  DocList docs = MakeDocs(250);
  auto results = client_->Post("/index", docs, Options());
  ASSERT_TRUE(results.ok()) << results.status();
  std::vector<std::string> texts = Texts(*results);
  std::vector<std::string> expected = Texts(docs);
  std::sort(texts.begin(), texts.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(texts, expected);
  EXPECT_EQ(server_->requests().size(), 3u);
  EXPECT_EQ(server_->calls(), stream() ? 1 : 3);
}

TEST_P(ClientTest, SendsEndpointTargetAndParameters) {
  PostOptions options = Options();
  options.target_executor = "ranker";
  options.parameters = *Params::FromJson(R"({"top_k": 5})");
  DocList docs = MakeDocs(1);
  ASSERT_TRUE(client_->Post("/search", docs, options).ok());
  std::vector<jina::DataRequestProto> requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].header().exec_endpoint(), "/search");
  EXPECT_EQ(requests[0].header().target_executor(), "ranker");
  Params sent(&requests[0].parameters());
  EXPECT_EQ(sent.GetInt("top_k"), 5);
  EXPECT_TRUE(sent.Has("__results__"));
}

TEST_P(ClientTest, EmptyInputSendsOneRequest) {
  DocList docs;
  auto results = client_->Post("/status", docs, Options());
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_TRUE(results->empty());
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].data().docs().docs_size(), 0);
}

TEST_P(ClientTest, PostsALazyGenerator) {
  int made = 0;
  PostOptions options = Options();
  options.request_size = 7;
  auto results = client_->Post(
      "/index",
      [&made](Doc& doc) {
        if (made == 100) return false;
        doc.set_text(absl::StrCat("doc ", made++));
        return true;
      },
      options);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(results->size(), 100u);
  EXPECT_EQ(server_->requests().size(), 15u);
}

TEST_P(ClientTest, ResultsInOrderFollowRequestOrder) {
  // Later requests are answered first.
  server_->SetDelay([](const jina::DataRequestProto& request) {
    return absl::Milliseconds(20 * (5 - FirstDocNumber(request)));
  });
  PostOptions options = Options();
  options.request_size = 1;
  options.results_in_order = true;
  DocList docs = MakeDocs(6);
  std::vector<std::string> seen;
  options.on_done = [&seen](const Response& response) {
    seen.emplace_back(response.docs()[0].text());
  };
  auto results = client_->Post("/index", docs, options);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_TRUE(results->empty());  // on_done set: docs go to the callback only
  EXPECT_EQ(seen, Texts(docs));
  if (stream()) {
    ASSERT_EQ(server_->call_metadata().size(), 1u);
    EXPECT_THAT(server_->call_metadata()[0],
                ::testing::Contains(Pair("__results_in_order__", "true")));
  }
}

TEST_P(ClientTest, PrefetchBoundsRequestsInFlight) {
  server_->SetHoldUntil(3);  // answers only once 3 requests wait
  PostOptions options = Options();
  options.request_size = 1;
  options.prefetch = 3;
  DocList docs = MakeDocs(12);
  auto results = client_->Post("/index", docs, options);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(results->size(), 12u);
  EXPECT_EQ(server_->max_concurrent(), 3);
  if (stream()) {
    EXPECT_THAT(server_->call_metadata()[0], ::testing::Contains(Pair("__prefetch__", "3")));
  }
}

TEST_P(ClientTest, NoOrderingOrPrefetchMetadataByDefault) {
  DocList docs = MakeDocs(1);
  ASSERT_TRUE(client_->Post("/index", docs, Options()).ok());
  for (const auto& metadata : server_->call_metadata()) {
    EXPECT_EQ(metadata.count("__results_in_order__"), 0u);
    EXPECT_EQ(metadata.count("__prefetch__"), 0u);
  }
}

TEST_P(ClientTest, CallbacksSplitSuccessesAndExecutorErrors) {
  server_->SetExecutorError("ValueError", "bad doc");
  server_->SetErrorFilter(
      [](const jina::DataRequestProto& request) { return FirstDocNumber(request) == 1; });
  PostOptions options = Options();
  options.request_size = 1;
  int done = 0, errors = 0, always = 0;
  options.on_done = [&done](const Response& r) {
    EXPECT_TRUE(r.ok());
    ++done;
  };
  options.on_error = [&errors](const Response& r) {
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.exception_name(), "ValueError");
    EXPECT_EQ(r.error(), "bad doc");
    ++errors;
  };
  options.on_always = [&always](const Response&) { ++always; };
  DocList docs = MakeDocs(3);
  auto results = client_->Post("/index", docs, options);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_TRUE(results->empty());
  EXPECT_EQ(done, 2);
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(always, 3);
}

TEST_P(ClientTest, OnlyOnErrorStillReturnsDocs) {
  PostOptions options = Options();
  int errors = 0;
  options.on_error = [&errors](const Response&) { ++errors; };
  DocList docs = MakeDocs(4);
  auto results = client_->Post("/index", docs, options);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(results->size(), 4u);
  EXPECT_EQ(errors, 0);
}

TEST_P(ClientTest, UnhandledExecutorErrorFailsThePost) {
  server_->SetExecutorError("ZeroDivisionError", "division by zero");
  DocList docs = MakeDocs(3);
  auto results = client_->Post("/index", docs, Options());
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("ZeroDivisionError"));
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("division by zero"));
}

TEST_P(ClientTest, ContinueOnErrorKeepsGoing) {
  server_->SetExecutorError("ValueError", "bad doc");
  PostOptions options = Options();
  options.request_size = 1;
  options.continue_on_error = true;
  DocList docs = MakeDocs(3);
  auto results = client_->Post("/index", docs, options);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(server_->requests().size(), 3u);
}

TEST_P(ClientTest, TimeoutFailsASlowPost) {
  server_->SetDelay([](const jina::DataRequestProto&) { return absl::Milliseconds(500); });
  PostOptions options = Options();
  options.timeout = std::chrono::milliseconds(50);
  DocList docs = MakeDocs(1);
  auto results = client_->Post("/index", docs, options);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kDeadlineExceeded) << results.status();
}

TEST(ClientUnaryTest, RetriesUnavailableCalls) {
  auto server = FakeJinaServer::Start();
  ASSERT_TRUE(server.ok());
  auto client = Client::Connect((*server)->address());
  ASSERT_TRUE(client.ok());
  (*server)->FailNextCalls(2);
  PostOptions options;
  options.stream = false;
  options.max_attempts = 3;
  options.initial_backoff = std::chrono::milliseconds(10);
  DocList docs = MakeDocs(2);
  auto results = client->Post("/index", docs, options);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(results->size(), 2u);
  EXPECT_EQ((*server)->calls(), 3);
}

TEST(ClientUnaryTest, GivesUpAfterMaxAttempts) {
  auto server = FakeJinaServer::Start();
  ASSERT_TRUE(server.ok());
  auto client = Client::Connect((*server)->address());
  ASSERT_TRUE(client.ok());
  (*server)->FailNextCalls(2);
  PostOptions options;
  options.stream = false;
  options.max_attempts = 2;
  options.initial_backoff = std::chrono::milliseconds(10);
  DocList docs = MakeDocs(1);
  auto results = client->Post("/index", docs, options);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(results.status().message()), HasSubstr((*server)->address()));
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("2 attempt"));
}

TEST(ClientStreamTest, FailedStreamFailsThePost) {
  auto server = FakeJinaServer::Start();
  ASSERT_TRUE(server.ok());
  auto client = Client::Connect((*server)->address());
  ASSERT_TRUE(client.ok());
  (*server)->FailNextCalls(1);
  DocList docs = MakeDocs(5);
  auto results = client->Post("/index", docs);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(results.status().message()), HasSubstr((*server)->address()));
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("UNAVAILABLE"));
}

TEST(ClientPingTest, ReportsHealth) {
  auto server = FakeJinaServer::Start();
  ASSERT_TRUE(server.ok());
  auto client = Client::Connect((*server)->address());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->Ping().ok());
  (*server)->SetServing(false);
  Status status = client->Ping();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("NOT_SERVING"));
}

TEST(ClientPingTest, NoServerIsAnError) {
  std::string address;
  {
    auto server = FakeJinaServer::Start();
    ASSERT_TRUE(server.ok());
    address = (*server)->address();
  }
  auto client = Client::Connect(address, {.connect_timeout = std::chrono::milliseconds(0)});
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE(client->Ping(std::chrono::milliseconds(500)).ok());
  auto waiting = Client::Connect(address, {.connect_timeout = std::chrono::milliseconds(200)});
  EXPECT_EQ(waiting.status().code(), absl::StatusCode::kUnavailable);
}

TEST(ClientConnectTest, RejectsBadAddresses) {
  EXPECT_EQ(Client::Connect("no-port").status().code(), absl::StatusCode::kInvalidArgument);
  // grpcs:// is TLS; a CA file that is not PEM is named in the error.
  StatusOr<Client> bad_ca =
      Client::Connect("grpcs://127.0.0.1:1",
                      {.connect_timeout = std::chrono::milliseconds(0), .ssl_cafile = "/dev/null"});
  EXPECT_EQ(bad_ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_ca.status().message().find("/dev/null"), std::string::npos)
      << bad_ca.status().message();
}

}  // namespace
}  // namespace shoal
