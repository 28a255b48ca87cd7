// Unit tests of the Echo, Sleep, Fail and Counter built-in Executors, calling their endpoints on
// instances directly, and of the registrations that DESIGN.md §5 makes a contract.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "executors/counter.h"
#include "executors/echo.h"
#include "executors/exact_nn_indexer.h"
#include "executors/fail.h"
#include "executors/sleep.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/executor.h"
#include "src/executor/registry.h"
#include "src/executor/request_state.h"
#include "tests/testing/params.h"
#include "tests/testing/temp_dir.h"

namespace shoal::builtin {
namespace {

using ::testing::HasSubstr;

using ::shoal::testing::ParamsJson;

DocList MakeDocs(int n) {
  DocList docs;
  for (int i = 0; i < n; ++i) {
    Doc doc = docs.Add();
    doc.set_id("doc-" + std::to_string(i));
    doc.set_text("text " + std::to_string(i));
  }
  return docs;
}

// Checks that `docs` are MakeDocs(n)'s docs, each served by `replica`.
void ExpectEchoed(const DocList& docs, int n, std::string_view replica) {
  ASSERT_EQ(docs.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(docs[i].id(), "doc-" + std::to_string(i));
    EXPECT_EQ(docs[i].text(), "text " + std::to_string(i));
    EXPECT_EQ(docs[i].GetText(kServedByField), std::optional<std::string_view>(replica));
  }
}

using ::shoal::testing::TempDir;

TEST(EchoTest, ReturnsDocsMarkedWithTheReplicaName) {
  Echo echo(ParamsJson("{}"));
  internal::RuntimeAccess::Init(echo, "echo/rep-1", "");
  DocList docs = MakeDocs(3);
  ASSERT_TRUE(echo.Default(docs, ParamsJson(R"({"anything": 1})")).ok());
  ExpectEchoed(docs, 3, "echo/rep-1");
}

TEST(EchoTest, EmptyRequestStaysEmpty) {
  Echo echo(ParamsJson("{}"));
  DocList docs;
  ASSERT_TRUE(echo.Default(docs, Params()).ok());
  EXPECT_TRUE(docs.empty());
}

TEST(SleepTest, SleepsParametersMsThenEchoes) {
  Sleep sleep(ParamsJson(R"({"ms": 0})"));
  internal::RuntimeAccess::Init(sleep, "slow/shard-0/rep-0", "");
  DocList docs = MakeDocs(2);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(sleep.Default(docs, ParamsJson(R"({"ms": 30})")).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  ExpectEchoed(docs, 2, "slow/shard-0/rep-0");
}

TEST(SleepTest, FallsBackToUsesWithMs) {
  Sleep sleep(ParamsJson(R"({"ms": 25})"));
  DocList docs = MakeDocs(1);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(sleep.Default(docs, Params()).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(25));
  ExpectEchoed(docs, 1, "");
}

TEST(SleepTest, WithoutMsAnswersRightAway) {
  Sleep sleep(ParamsJson("{}"));
  DocList docs = MakeDocs(2);
  ASSERT_TRUE(sleep.Default(docs, Params()).ok());
  ExpectEchoed(docs, 2, "");
}

TEST(SleepTest, RejectsBadMs) {
  DocList docs = MakeDocs(1);
  Sleep sleep(ParamsJson("{}"));
  EXPECT_EQ(sleep.Default(docs, ParamsJson(R"({"ms": -5})")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sleep.Default(docs, ParamsJson(R"({"ms": "10"})")).code(),
            absl::StatusCode::kInvalidArgument);
  Sleep bad_config(ParamsJson(R"({"ms": -1})"));
  Status status = bad_config.Default(docs, Params());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("uses_with.ms"));
}

TEST(FailTest, EchoesWhenNotAskedToFail) {
  Fail fail(ParamsJson("{}"));
  internal::RuntimeAccess::Init(fail, "fail/rep-0", "");
  DocList docs = MakeDocs(2);
  ASSERT_TRUE(fail.Default(docs, ParamsJson(R"({"fail": false})")).ok());
  ExpectEchoed(docs, 2, "fail/rep-0");
}

TEST(FailTest, FailsWhenParametersSayFail) {
  Fail fail(ParamsJson(R"({"always": false})"));
  DocList docs = MakeDocs(2);
  Status status = fail.Default(docs, ParamsJson(R"({"fail": true})"));
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("failed on purpose"));
  ASSERT_TRUE(fail.Default(docs, Params()).ok());
}

TEST(FailTest, FailsEveryRequestWhenUsesWithAlways) {
  Fail fail(ParamsJson(R"({"always": true})"));
  DocList docs = MakeDocs(1);
  EXPECT_FALSE(fail.Default(docs, Params()).ok());
  EXPECT_FALSE(fail.Default(docs, ParamsJson(R"({"fail": false})")).ok());
}

TEST(CounterTest, IndexCountsDocsAndReturnsThem) {
  Counter counter(ParamsJson("{}"));
  DocList first = MakeDocs(3);
  ASSERT_TRUE(counter.Index(first, Params()).ok());
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[2].id(), "doc-2");
  DocList second = MakeDocs(2);
  ASSERT_TRUE(counter.Index(second, Params()).ok());
  DocList none;
  ASSERT_TRUE(counter.Index(none, Params()).ok());
  EXPECT_EQ(counter.count(), 5u);
}

TEST(CounterTest, CountAnswersOneDocWithTheCount) {
  Counter counter(ParamsJson("{}"));
  internal::RuntimeAccess::Init(counter, "counter/rep-2", "");
  DocList docs = MakeDocs(12);
  ASSERT_TRUE(counter.Index(docs, Params()).ok());
  DocList query = MakeDocs(4);
  ASSERT_TRUE(counter.Count(query, Params()).ok());
  ASSERT_EQ(query.size(), 1u);
  EXPECT_EQ(query[0].text(), "12");
  EXPECT_EQ(query[0].GetText(kServedByField), std::optional<std::string_view>("counter/rep-2"));
  DocList empty;
  ASSERT_TRUE(Counter(ParamsJson("{}")).Count(empty, Params()).ok());
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].text(), "0");
}

TEST(CounterTest, SnapshotRestoreRoundTrip) {
  TempDir dir("exec");
  Counter counter(ParamsJson("{}"));
  DocList docs = MakeDocs(7);
  ASSERT_TRUE(counter.Index(docs, Params()).ok());
  std::filesystem::path file = dir.path() / "counter.snap";
  ASSERT_TRUE(counter.Snapshot(file).ok());
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".tmp"));

  Counter restored(ParamsJson("{}"));
  ASSERT_TRUE(restored.Restore(file).ok());
  EXPECT_EQ(restored.count(), 7u);
  // Restoring replaces the state rather than adding to it.
  ASSERT_TRUE(restored.Restore(file).ok());
  EXPECT_EQ(restored.count(), 7u);
}

TEST(CounterTest, RestoreReportsMissingAndCorruptFiles) {
  TempDir dir("exec");
  Counter counter(ParamsJson("{}"));
  EXPECT_EQ(counter.Restore(dir.path() / "absent").code(), absl::StatusCode::kNotFound);

  DocList docs = MakeDocs(3);
  ASSERT_TRUE(counter.Index(docs, Params()).ok());
  std::filesystem::path file = dir.path() / "counter.snap";
  ASSERT_TRUE(counter.Snapshot(file).ok());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);  // the first byte of the count
    f.put('\x09');
  }
  Counter restored(ParamsJson("{}"));
  Status status = restored.Restore(file);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(file.string()));
  EXPECT_EQ(restored.count(), 0u);

  std::filesystem::resize_file(file, 10);
  EXPECT_EQ(restored.Restore(file).code(), absl::StatusCode::kDataLoss);
}

TEST(CounterTest, RestoreRejectsAnotherExecutorsSnapshot) {
  TempDir dir("exec");
  StatusOr<std::unique_ptr<ExactNNIndexer>> indexer = ExactNNIndexer::Create(ParamsJson("{}"));
  ASSERT_TRUE(indexer.ok());
  std::filesystem::path file = dir.path() / "nn.snap";
  ASSERT_TRUE((*indexer)->Snapshot(file).ok());
  Status status = Counter(ParamsJson("{}")).Restore(file);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("magic"));
}

// The endpoints of each built-in as registered: name -> is a write.
std::vector<std::pair<std::string, bool>> EndpointsOf(std::string_view class_name) {
  std::vector<std::pair<std::string, bool>> endpoints;
  const executor::ExecutorClass* c = executor::FindExecutorClass(class_name);
  if (c == nullptr) return endpoints;
  for (const internal::EndpointEntry& e : c->endpoints.entries) {
    endpoints.emplace_back(e.name, e.write);
  }
  return endpoints;
}

TEST(RegistrationTest, BuiltinsAreRegisteredWithTheirEndpoints) {
  using Endpoints = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(EndpointsOf("Echo"), (Endpoints{{"/default", false}}));
  EXPECT_EQ(EndpointsOf("Sleep"), (Endpoints{{"/default", false}}));
  EXPECT_EQ(EndpointsOf("Fail"), (Endpoints{{"/default", false}}));
  EXPECT_EQ(EndpointsOf("Counter"), (Endpoints{{"/index", true}, {"/count", false}}));
  EXPECT_EQ(EndpointsOf("ExactNNIndexer"),
            (Endpoints{{"/index", true}, {"/search", false}, {"/count", false}}));
}

TEST(RegistrationTest, FactoriesReadUsesWith) {
  const executor::ExecutorClass* nn = executor::FindExecutorClass("ExactNNIndexer");
  ASSERT_NE(nn, nullptr);
  EXPECT_TRUE(nn->factory(ParamsJson(R"({"metric": "l2"})")).ok());
  StatusOr<std::unique_ptr<Executor>> bad = nn->factory(ParamsJson(R"({"metric": "dot"})"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("\"dot\""));

  const executor::ExecutorClass* fail = executor::FindExecutorClass("Fail");
  ASSERT_NE(fail, nullptr);
  StatusOr<std::unique_ptr<Executor>> made = fail->factory(ParamsJson(R"({"always": true})"));
  ASSERT_TRUE(made.ok());
  DocList docs = MakeDocs(1);
  EXPECT_FALSE(static_cast<Fail&>(**made).Default(docs, Params()).ok());
}

}  // namespace
}  // namespace shoal::builtin
