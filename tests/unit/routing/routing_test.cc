// Unit tests of src/routing's pure parts: replica choice, polling, addresses, attempts, and the
// reduce of shard answers.
#include <grpcpp/support/byte_buffer.h>

#include <map>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.pb.h"
#include "shoal/doc.h"
#include "src/routing/address.h"
#include "src/routing/balancer.h"
#include "src/routing/deployment_router.h"
#include "src/routing/polling.h"
#include "src/routing/sender.h"

namespace shoal::routing {
namespace {

using ::testing::HasSubstr;

TEST(BalancerTest, IdleReplicaWinsOverBusyOnes) {
  std::vector<Candidate> c = {{.outstanding = 1}, {.outstanding = 0}, {.outstanding = 3}};
  for (uint64_t rotation = 0; rotation < 6; ++rotation) {
    EXPECT_EQ(PickReplica(c, rotation, rotation * 7919), 1u);
  }
}

TEST(BalancerTest, TiesRotate) {
  std::vector<Candidate> c(3);
  std::map<size_t, int> picks;
  for (uint64_t rotation = 0; rotation < 30; ++rotation) ++picks[*PickReplica(c, rotation, 0)];
  EXPECT_EQ(picks, (std::map<size_t, int>{{0, 10}, {1, 10}, {2, 10}}));
}

TEST(BalancerTest, TriedAndEjectedReplicasAreAvoided) {
  std::vector<Candidate> c = {
      {.outstanding = 0, .tried = true}, {.outstanding = 0, .healthy = false}, {.outstanding = 5}};
  EXPECT_EQ(PickReplica(c, 0, 0), 2u);
  c[2].tried = true;
  EXPECT_EQ(PickReplica(c, 0, 0), 1u);  // an ejected replica beats giving up
  c[1].tried = true;
  EXPECT_EQ(PickReplica(c, 0, 0), std::nullopt);
}

TEST(BalancerTest, LargePoolsUseTwoDistinctChoices) {
  std::vector<Candidate> c(20, Candidate{.outstanding = 4});
  c[13].outstanding = 0;
  int hits = 0;
  for (uint64_t r = 0; r < 2000; ++r) {
    size_t pick = *PickReplica(c, r, r * 2654435761u);
    ASSERT_LT(pick, c.size());
    hits += pick == 13;
  }
  // With two choices out of 20, the idle replica is in the pair about 10% of the time and
  // then always wins.
  EXPECT_GT(hits, 100);
  EXPECT_LT(hits, 400);
}

TEST(BalancerTest, RoundRobinIgnoresLoad) {
  std::vector<Candidate> c = {{.outstanding = 9}, {.outstanding = 0}, {.outstanding = 0}};
  EXPECT_EQ(PickRoundRobin(c, 0), 0u);
  EXPECT_EQ(PickRoundRobin(c, 1), 1u);
  EXPECT_EQ(PickRoundRobin(c, 3), 0u);
  c[0].healthy = false;
  EXPECT_EQ(PickRoundRobin(c, 3), 1u);
}

TEST(PollingTest, JinaDefaults) {
  PollingTable any(Polling::kAny, {});
  EXPECT_EQ(any.For("/search"), Polling::kAll);
  EXPECT_EQ(any.For("/index"), Polling::kAny);
  EXPECT_EQ(any.For("/foo"), Polling::kAny);
  PollingTable all(Polling::kAll, {});
  EXPECT_EQ(all.For("/index"), Polling::kAny);  // ALL still sends /index to one shard
  EXPECT_EQ(all.For("/foo"), Polling::kAll);
  PollingTable named(Polling::kAny, {{"/search", Polling::kAny}, {"/custom", Polling::kAll}});
  EXPECT_EQ(named.For("/search"), Polling::kAny);
  EXPECT_EQ(named.For("/custom"), Polling::kAll);
}

TEST(PollingTest, ParseIsCaseInsensitiveAndNamesTypos) {
  EXPECT_EQ(*ParsePolling("all"), Polling::kAll);
  EXPECT_EQ(*ParsePolling("Any"), Polling::kAny);
  auto bad = ParsePolling("ANYY");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("ANYY"));
}

TEST(AddressTest, SchemesAndErrors) {
  auto plain = ParseAddress("127.0.0.1:8080");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->target(), "127.0.0.1:8080");
  EXPECT_FALSE(plain->tls);
  auto tls = ParseAddress("grpcs://example.internal:443");
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->ToString(), "grpcs://example.internal:443");
  EXPECT_THAT(ParseAddress("host-without-port").status().message(), HasSubstr("no port"));
  EXPECT_THAT(ParseAddress("http://h:1").status().message(), HasSubstr("scheme"));
  EXPECT_THAT(ParseAddress("h:99999").status().message(), HasSubstr("1..65535"));
  EXPECT_THAT(ParseAddress(":80").status().message(), HasSubstr("empty host"));
}

TEST(AttemptsTest, JinaRetryBudget) {
  EXPECT_EQ(AttemptsFor(-1, 1), 4);
  EXPECT_EQ(AttemptsFor(-1, 3), 4);
  EXPECT_EQ(AttemptsFor(-1, 5), 6);
  EXPECT_EQ(AttemptsFor(0, 5), 1);
  EXPECT_EQ(AttemptsFor(2, 5), 3);
}

grpc::ByteBuffer Answer(const std::vector<std::pair<std::string, std::string>>& docs,
                        const std::string& result_key, bool error = false) {
  jina::DataRequestProto response;
  response.mutable_header()->set_request_id("r");
  if (error) response.mutable_header()->mutable_status()->set_code(jina::StatusProto::ERROR);
  DocList list(response.mutable_data()->mutable_docs());
  for (const auto& [id, text] : docs) {
    Doc d = list.Add();
    d.set_id(id);
    d.set_text(text);
  }
  auto& results =
      *(*response.mutable_parameters()->mutable_fields())["__results__"].mutable_struct_value();
  (*results.mutable_fields())[result_key].set_string_value("x");
  std::string bytes = response.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

jina::DataRequestProto Parse(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  EXPECT_TRUE(buffer.DumpToSingleSlice(&slice).ok());
  jina::DataRequestProto out;
  EXPECT_TRUE(out.ParseFromArray(slice.begin(), static_cast<int>(slice.size())));
  return out;
}

TEST(ReduceResponsesTest, MergesByIdInOrderAndMergesResults) {
  grpc::ByteBuffer a = Answer({{"1", "a1"}, {"2", "a2"}}, "dep/shard-0/rep-0");
  grpc::ByteBuffer b = Answer({{"2", "b2"}, {"3", "b3"}}, "dep/shard-1/rep-0");
  auto reduced = ReduceResponses({&a, &b});
  ASSERT_TRUE(reduced.ok());
  jina::DataRequestProto out = Parse(*reduced);
  DocList docs(out.mutable_data()->mutable_docs());
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].id(), "1");
  EXPECT_EQ(docs[1].id(), "2");
  EXPECT_EQ(docs[1].text(), "b2");  // the later non-empty value wins
  EXPECT_EQ(docs[2].id(), "3");
  const auto& results = out.parameters().fields().at("__results__").struct_value().fields();
  EXPECT_EQ(results.size(), 2u);
}

TEST(ReduceResponsesTest, FirstSuccessfulAnswerIsTheBase) {
  grpc::ByteBuffer failed = Answer({{"1", "x"}}, "a", /*error=*/true);
  grpc::ByteBuffer ok = Answer({{"1", "y"}}, "b");
  auto reduced = ReduceResponses({&failed, &ok});
  ASSERT_TRUE(reduced.ok());
  EXPECT_EQ(Parse(*reduced).header().status().code(), jina::StatusProto::SUCCESS);
}

TEST(ReduceResponsesTest, GarbageIsAnError) {
  grpc::Slice slice(std::string("\xff\xff\xff", 3));
  grpc::ByteBuffer garbage(&slice, 1);
  EXPECT_FALSE(ReduceResponses({&garbage}).ok());
}

}  // namespace
}  // namespace shoal::routing
