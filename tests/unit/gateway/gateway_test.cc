// gateway::Gateway in process: the walk of a Flow's graph over fake Deployments (one fake
// replica each), which nodes a request reaches and with what, and how errors pass through.
// Every fake appends a doc named after its node to what it answers, so the answer's docs say
// which nodes ran, in which order.
#include "src/gateway/gateway.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.pb.h"
#include "src/routing/deployment_router.h"
#include "src/routing/replica_set.h"
#include "tests/testing/fake_jina_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait.h"

namespace shoal::gateway {
namespace {

using ::shoal::testing::FakeJinaServer;
using ::shoal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

void AddDoc(jina::DataRequestProto* request, const std::string& id) {
  (*request->mutable_data()->mutable_docs()->add_docs()->mutable_data())["id"].set_text(id);
}

std::vector<std::string> DocIds(const jina::DataRequestProto& request) {
  std::vector<std::string> ids;
  for (const auto& doc : request.data().docs().docs()) {
    auto it = doc.data().find("id");
    ids.push_back(it == doc.data().end() ? "<no id>" : it->second.text());
  }
  return ids;
}

jina::DataRequestProto Parse(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  jina::DataRequestProto proto;
  EXPECT_TRUE(buffer.DumpToSingleSlice(&slice).ok());
  EXPECT_TRUE(proto.ParseFromArray(slice.begin(), static_cast<int>(slice.size())));
  return proto;
}

struct Node {
  std::string name;
  std::vector<size_t> needs;
  bool no_reduce = false;
};

class GatewayTest : public ::testing::Test {
 protected:
  // One fake Deployment per node (no retries); `end` as for Gateway.
  void Build(const std::vector<Node>& nodes, std::optional<size_t> end) {
    std::vector<GraphNode> graph;
    for (const Node& node : nodes) {
      auto fake = FakeJinaServer::Start();
      ASSERT_TRUE(fake.ok()) << fake.status();
      std::string name = node.name;
      (*fake)->SetAnswer([name](const jina::DataRequestProto&, jina::DataRequestProto* response) {
        AddDoc(response, name);
        return grpc::Status::OK;
      });
      std::vector<std::unique_ptr<routing::ReplicaSet>> shards;
      shards.push_back(std::make_unique<routing::ReplicaSet>(
          std::vector<routing::Address>{{.host = "127.0.0.1", .port = (*fake)->port()}},
          routing::ReplicaSet::Options{.name = name, .probe_interval = absl::Hours(1)}));
      routers_.push_back(std::make_unique<routing::DeploymentRouter>(
          routing::DeploymentRouter::Options{.name = name, .retries = 0}, std::move(shards)));
      fakes_.push_back(std::move(fake).value());
      graph.push_back(GraphNode{.name = name,
                                .router = routers_.back().get(),
                                .needs = node.needs,
                                .no_reduce = node.no_reduce});
    }
    gateway_ = std::make_unique<Gateway>(std::move(graph), end);
  }

  // Routes a request with docs `ids` for `endpoint` and waits (bounded) for the answer.
  routing::SendResult Process(const std::vector<std::string>& ids, const std::string& endpoint,
                              const std::string& target_executor = "",
                              const google::protobuf::Struct& parameters = {}) {
    jina::DataRequestProto request;
    *request.mutable_parameters() = parameters;
    request.mutable_header()->set_request_id("req");
    request.mutable_header()->set_exec_endpoint(endpoint);
    if (!target_executor.empty()) request.mutable_header()->set_target_executor(target_executor);
    for (const std::string& id : ids) AddDoc(&request, id);
    std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    StatusOr<RequestHead> head = ReadRequestHead(buffer);
    EXPECT_TRUE(head.ok()) << head.status();
    absl::Notification done;
    routing::SendResult result;
    gateway_->Process(std::move(buffer), *head, std::nullopt, [&](routing::SendResult r) {
      result = std::move(r);
      done.Notify();
    });
    if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
      ADD_FAILURE() << "Process did not call done within 30 s";
      std::abort();  // `done` still refers to this frame
    }
    return result;
  }

  void TearDown() override {
    if (gateway_ != nullptr) {
      EXPECT_TRUE(gateway_->Drain(absl::Seconds(10)));
    }
  }

  std::vector<std::unique_ptr<FakeJinaServer>> fakes_;
  std::vector<std::unique_ptr<routing::DeploymentRouter>> routers_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayTest, AChainRunsEveryNodeInOrder) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b", {0}}, {"c", {1}}}, 2));
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in", "a", "b", "c"));
  EXPECT_THAT(DocIds(fakes_[1]->requests().at(0)), ElementsAre("in", "a"));
}

TEST_F(GatewayTest, AJoinWaitsForAllItsNeedsAndGetsTheirAnswersReduced) {
  // a and b both start from the gateway; c needs both.
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b"}, {"c", {0, 1}}}, 2));
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(fakes_[0]->calls(), 1);
  EXPECT_EQ(fakes_[1]->calls(), 1);
  ASSERT_EQ(fakes_[2]->calls(), 1);
  // One request to c: the parts merged by id in `needs` order ("in" once).
  EXPECT_THAT(DocIds(fakes_[2]->requests().at(0)), ElementsAre("in", "a", "b"));
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in", "a", "b", "c"));
  EXPECT_THAT(fakes_[2]->part_counts(), IsEmpty());
}

TEST_F(GatewayTest, ANoReduceJoinGetsAllPartsInOneProcessDataCall) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b"}, {"c", {0, 1}, /*no_reduce=*/true}}, 2));
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(fakes_[2]->part_counts(), ElementsAre(2));
  // The fake concatenates the parts: "in" comes twice, unmerged.
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in", "a", "in", "b", "c"));
}

TEST_F(GatewayTest, ResultsOfEveryBranchAreMergedAtAJoin) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b"}, {"c", {0, 1}}}, 2));
  for (int i = 0; i < 2; ++i) {
    std::string name = i == 0 ? "a" : "b";
    fakes_[i]->SetAnswer([name](const jina::DataRequestProto&, jina::DataRequestProto* response) {
      (*(*response->mutable_parameters()->mutable_fields())["__results__"]
            .mutable_struct_value()
            ->mutable_fields())[name]
          .set_string_value("from " + name);
      return grpc::Status::OK;
    });
  }
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(fakes_[2]->requests().size(), 1u);
  const jina::DataRequestProto joined = fakes_[2]->requests()[0];
  const auto& results = joined.parameters().fields().at("__results__").struct_value().fields();
  std::vector<std::string> keys;
  for (const auto& [key, value] : results) keys.push_back(key + "=" + value.string_value());
  EXPECT_THAT(keys, UnorderedElementsAre("a=from a", "b=from b"));
}

TEST_F(GatewayTest, EachNodeSeesItsOwnSpecificParametersOnly) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b", {0}}}, 1));
  google::protobuf::Struct parameters;
  (*parameters.mutable_fields())["b__k"].set_string_value("for b");
  (*parameters.mutable_fields())["shared"].set_string_value("for all");
  routing::SendResult result = Process({"in"}, "/x", "", parameters);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  const jina::DataRequestProto to_a = fakes_[0]->requests().at(0);
  const jina::DataRequestProto to_b = fakes_[1]->requests().at(0);
  EXPECT_EQ(to_a.parameters().fields().count("k"), 0u);
  EXPECT_EQ(to_a.parameters().fields().count("b__k"), 0u);
  EXPECT_EQ(to_a.parameters().fields().at("shared").string_value(), "for all");
  EXPECT_EQ(to_b.parameters().fields().at("k").string_value(), "for b");
  EXPECT_EQ(to_b.parameters().fields().at("shared").string_value(), "for all");
}

TEST_F(GatewayTest, AFloatingNodeRunsButNobodyWaitsForIt) {
  // f needs the gateway and nothing needs f; the answer is a's.
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"f"}}, 0));
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in", "a"));
  EXPECT_TRUE(shoal::testing::WaitFor([&] { return fakes_[1]->calls() == 1; }));
  EXPECT_TRUE(gateway_->Drain(absl::Seconds(10)));
  EXPECT_THAT(DocIds(fakes_[1]->requests().at(0)), ElementsAre("in"));
}

TEST_F(GatewayTest, TargetExecutorSkipsTheOtherNodesButKeepsTheWalk) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b", {0}}, {"c", {1}}}, 2));
  routing::SendResult result = Process({"in"}, "/x", "b");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(fakes_[0]->calls(), 0);
  EXPECT_EQ(fakes_[1]->calls(), 1);
  EXPECT_EQ(fakes_[2]->calls(), 0);
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in", "b"));
}

TEST_F(GatewayTest, ATargetExecutorThatIsNoPatternIsRefused) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}}, 0));
  routing::SendResult result = Process({"in"}, "/x", "(");
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(fakes_[0]->calls(), 0);
}

TEST_F(GatewayTest, AnExecutorErrorSkipsEverythingDownstream) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b"}, {"c", {0, 1}}, {"d", {2}}}, 3));
  fakes_[0]->SetExecutorError("ValueError", "bad doc");
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_TRUE(result.is_error());
  EXPECT_EQ(Parse(result.response).header().status().exception().name(), "ValueError");
  EXPECT_EQ(fakes_[1]->calls(), 1);  // a sibling branch still runs
  EXPECT_EQ(fakes_[2]->calls(), 0);
  EXPECT_EQ(fakes_[3]->calls(), 0);
}

TEST_F(GatewayTest, ATransportFailureNamesTheDeploymentAndSkipsDownstream) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b", {0}}}, 1));
  fakes_[0]->FailNextCalls(1);
  routing::SendResult result = Process({"in"}, "/x");
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kUnavailable,
                                      HasSubstr("Deployment 'a': a: 1 attempt(s) failed")));
  EXPECT_EQ(fakes_[1]->calls(), 0);
}

TEST_F(GatewayTest, ANodeWithoutTheEndpointIsSkippedAfterDiscovery) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}, {"b", {0}}, {"c", {1}}}, 2));
  fakes_[0]->SetEndpoints({"/x"});
  fakes_[1]->SetEndpoints({"/other"});
  fakes_[2]->SetEndpoints({"/default"});
  gateway_->Discover(std::chrono::milliseconds(5000));
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(fakes_[1]->calls(), 0);  // data calls; discovery is not counted
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in", "a", "c"));
}

TEST_F(GatewayTest, ANodeThatCannotBeAskedForItsEndpointsGetsEveryRequest) {
  ASSERT_NO_FATAL_FAILURE(Build({{"a"}}, 0));
  gateway_->Discover(std::chrono::milliseconds(5000));  // the fake has no endpoints set
  routing::SendResult result = Process({"in"}, "/anything");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in", "a"));
}

TEST_F(GatewayTest, WithoutNodesTheRequestIsEchoed) {
  ASSERT_NO_FATAL_FAILURE(Build({}, std::nullopt));
  routing::SendResult result = Process({"in"}, "/x");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(DocIds(Parse(result.response)), ElementsAre("in"));
}

}  // namespace
}  // namespace shoal::gateway
