// Tests of the HTTP gateway's JSON forms: request bodies to DataRequestProto (docarray encoding)
// and answers back to JSON, and the errors that name what was wrong.
#include "src/gateway/http_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "docarray.pb.h"
#include "shoal/doc.h"

namespace shoal::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

jina::DataRequestProto Parse(const std::string& body, std::string_view endpoint = "") {
  StatusOr<jina::DataRequestProto> request = DataRequestFromJson(body, endpoint);
  EXPECT_TRUE(request.ok()) << request.status();
  return request.ok() ? *std::move(request) : jina::DataRequestProto();
}

Json ToJson(const jina::DataRequestProto& request) {
  StatusOr<std::string> body = DataRequestToJson(request);
  EXPECT_TRUE(body.ok()) << body.status();
  return body.ok() ? Json::parse(*body) : Json();
}

std::string ErrorOf(const std::string& body) {
  StatusOr<jina::DataRequestProto> request = DataRequestFromJson(body, "");
  EXPECT_FALSE(request.ok());
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(request.status().message());
}

TEST(HttpJsonTest, PostBodyBecomesHeaderParametersAndDocs) {
  jina::DataRequestProto request = Parse(R"({
      "data": [{"id": "a", "text": "hello", "embedding": [1, 2.5, -3]}],
      "parameters": {"top_k": 3, "name": "x"},
      "execEndpoint": "/search", "targetExecutor": "enc.*"})");
  EXPECT_EQ(request.header().request_id().size(), 32u);
  EXPECT_EQ(request.header().exec_endpoint(), "/search");
  EXPECT_EQ(request.header().target_executor(), "enc.*");
  EXPECT_EQ(request.parameters().fields().at("top_k").number_value(), 3.0);
  EXPECT_EQ(request.parameters().fields().at("name").string_value(), "x");
  ASSERT_EQ(request.data().docs().docs_size(), 1);
  Doc doc(request.mutable_data()->mutable_docs()->mutable_docs(0));
  EXPECT_EQ(doc.id(), "a");
  EXPECT_EQ(doc.node("id")->type(), "id");
  EXPECT_EQ(doc.text(), "hello");
  EXPECT_THAT(doc.embedding(), ElementsAre(1.0f, 2.5f, -3.0f));
  EXPECT_EQ(doc.node("embedding")->type(), "ndarray");
}

TEST(HttpJsonTest, EndpointPathWinsAndPostDefaultsToRoot) {
  EXPECT_EQ(Parse(R"({"execEndpoint": "/x"})", "/foo").header().exec_endpoint(), "/foo");
  EXPECT_EQ(Parse("{}").header().exec_endpoint(), "/");
  EXPECT_FALSE(Parse("{}").header().has_target_executor());
}

TEST(HttpJsonTest, MissingIdsAreGenerated) {
  jina::DataRequestProto request = Parse(R"({"data": [{"text": "a"}, "b"]})");
  ASSERT_EQ(request.data().docs().docs_size(), 2);
  Doc first(request.mutable_data()->mutable_docs()->mutable_docs(0));
  Doc second(request.mutable_data()->mutable_docs()->mutable_docs(1));
  EXPECT_EQ(first.id().size(), 32u);
  EXPECT_NE(first.id(), second.id());
  EXPECT_EQ(second.text(), "b");
}

TEST(HttpJsonTest, ValuesTakeDocarrayKinds) {
  jina::DataRequestProto request = Parse(R"({"data": [{
      "count": 7, "big": 3000000000, "score": 0.5, "ok": true, "none": null,
      "meta": {"k": "v"}, "tags": ["a", 1], "grid": [[1, 2], [3, 4]],
      "matches": [{"id": "m", "text": "t"}]}]})");
  Doc doc(request.mutable_data()->mutable_docs()->mutable_docs(0));
  EXPECT_EQ(doc.node("count")->content_case(), docarray::NodeProto::kInteger);
  EXPECT_EQ(doc.GetInt("count"), 7);
  EXPECT_EQ(doc.node("big")->content_case(), docarray::NodeProto::kFloat);
  EXPECT_EQ(doc.GetDouble("score"), 0.5);
  EXPECT_EQ(doc.GetBool("ok"), true);
  EXPECT_FALSE(doc.Has("none"));
  EXPECT_EQ(doc.node("meta")->dict().data().at("k").text(), "v");
  EXPECT_EQ(doc.node("tags")->list().data_size(), 2);
  std::optional<NdArrayView> grid = doc.GetNdArray("grid");
  ASSERT_TRUE(grid.has_value());
  EXPECT_THAT(grid->shape(), ElementsAre(2u, 2u));
  EXPECT_THAT(grid->floats(), ElementsAre(1.0f, 2.0f, 3.0f, 4.0f));
  ASSERT_EQ(doc.matches().size(), 1u);
  EXPECT_EQ(doc.matches()[0].id(), "m");
  EXPECT_EQ(doc.matches()[0].text(), "t");
}

// docarray v2 serialises every field of a doc, the unset ones as null; Jina's HTTP client sends
// them so. A null is an unset field whatever the field's kind.
TEST(HttpJsonTest, DocarrayV2NullsAreUnsetFields) {
  jina::DataRequestProto request = Parse(R"({
      "data": [
        {"id": "t1", "text": "hello", "url": null, "embedding": null, "bytes_": null},
        {"id": "q1", "text": null, "embedding": null, "tensor": null, "score": null,
         "count": null, "flag": null, "items": null, "tags": {}, "image": null,
         "matches": [{"id": "m1", "text": "match", "url": null, "embedding": null,
                      "bytes_": null, "matches": null, "chunks": null}],
         "chunks": null},
        {"id": null, "text": "no id", "matches": [], "meta": {"k": null, "embedding": null},
         "nested": {"url": null, "tensor": null, "embedding": null, "matches": null}}],
      "parameters": null, "exec_endpoint": null, "target_executor": null})");
  EXPECT_EQ(request.header().exec_endpoint(), "/");
  EXPECT_FALSE(request.header().has_target_executor());
  ASSERT_EQ(request.data().docs().docs_size(), 3);
  Doc text(request.mutable_data()->mutable_docs()->mutable_docs(0));
  EXPECT_EQ(text.id(), "t1");
  EXPECT_EQ(text.text(), "hello");
  for (const char* field : {"url", "embedding", "bytes_"}) EXPECT_FALSE(text.Has(field)) << field;
  EXPECT_TRUE(text.embedding().empty());

  Doc query(request.mutable_data()->mutable_docs()->mutable_docs(1));
  for (const char* field :
       {"text", "embedding", "tensor", "score", "count", "flag", "items", "image", "chunks"}) {
    EXPECT_FALSE(query.Has(field)) << field;
  }
  EXPECT_EQ(query.node("tags")->dict().data_size(), 0);
  ASSERT_EQ(query.matches().size(), 1u);
  EXPECT_EQ(query.matches()[0].id(), "m1");
  EXPECT_EQ(query.matches()[0].text(), "match");
  EXPECT_FALSE(query.matches()[0].Has("embedding"));
  EXPECT_FALSE(query.matches()[0].Has("matches"));

  Doc no_id(request.mutable_data()->mutable_docs()->mutable_docs(2));
  EXPECT_EQ(no_id.id().size(), 32u);
  EXPECT_TRUE(no_id.matches().empty());
  const auto& nested = no_id.node("nested")->dict().data();
  EXPECT_EQ(nested.at("embedding").content_case(), docarray::NodeProto::CONTENT_NOT_SET);
  EXPECT_EQ(no_id.node("meta")->dict().data().at("k").content_case(),
            docarray::NodeProto::CONTENT_NOT_SET);

  // The answer leaves the unset fields out, as docarray reads them: absent is None.
  Json answer = ToJson(request);
  EXPECT_EQ(answer["data"][0], Json({{"id", "t1"}, {"text", "hello"}}));
  EXPECT_EQ(answer["data"][1]["matches"][0], Json({{"id", "m1"}, {"text", "match"}}));
}

TEST(HttpJsonTest, RoundTripKeepsDocsAndParameters) {
  const Json body = {{"data",
                      {{{"id", "d1"},
                        {"text", "hi"},
                        {"embedding", {0.5, 1.5}},
                        {"grid", {{1, 2, 3}, {4, 5, 6}}},
                        {"count", 2},
                        {"flag", false},
                        {"meta", {{"k", "v"}}},
                        {"tags", {"x", "y"}},
                        {"matches", {{{"id", "m1"}, {"text", "t"}}}}}}},
                     {"parameters", {{"top_k", 3}, {"nested", {{"a", true}}}}}};
  jina::DataRequestProto request = Parse(body.dump(), "/index");
  Json answer = ToJson(request);
  EXPECT_EQ(answer["header"]["requestId"], request.header().request_id());
  EXPECT_EQ(answer["header"]["execEndpoint"], "/index");
  EXPECT_FALSE(answer["header"].contains("status"));
  EXPECT_EQ(answer["parameters"], body["parameters"]);
  ASSERT_EQ(answer["data"].size(), 1u);
  EXPECT_EQ(answer["data"][0], body["data"][0]);
}

TEST(HttpJsonTest, ExecutorErrorIsInHeaderStatus) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id("r1");
  jina::StatusProto* status = request.mutable_header()->mutable_status();
  status->set_code(jina::StatusProto::ERROR);
  status->set_description("ValueError('bad')");
  status->mutable_exception()->set_name("ValueError");
  status->mutable_exception()->add_args("bad");
  status->mutable_exception()->set_executor("Enc");
  Json answer = ToJson(request);
  EXPECT_EQ(answer["header"]["status"]["code"], 1);
  EXPECT_EQ(answer["header"]["status"]["description"], "ValueError('bad')");
  EXPECT_EQ(answer["header"]["status"]["exception"]["name"], "ValueError");
  EXPECT_EQ(answer["header"]["status"]["exception"]["args"], Json({"bad"}));
  EXPECT_EQ(answer["header"]["status"]["exception"]["executor"], "Enc");
  EXPECT_EQ(answer["data"], Json::array());
}

TEST(HttpJsonTest, DocsBytesAndOtherDtypesAreWritten) {
  docarray::DocListProto docs;
  Doc doc(docs.add_docs());
  doc.set_id("x");
  docarray::DenseNdArrayProto* dense = doc.mutable_node("ints")->mutable_ndarray()->mutable_dense();
  const int64_t values[] = {-1, 2};
  dense->set_dtype("<i8");
  dense->add_shape(2);
  dense->set_buffer(reinterpret_cast<const char*>(values), sizeof(values));
  doc.SetBlob("bytes_", "abc");
  jina::DataRequestProto request;
  request.mutable_data()->set_docs_bytes(docs.SerializeAsString());
  Json answer = ToJson(request);
  EXPECT_EQ(answer["data"][0]["id"], "x");
  EXPECT_EQ(answer["data"][0]["ints"], Json({-1, 2}));
  EXPECT_EQ(answer["data"][0]["bytes_"], "YWJj");
}

TEST(HttpJsonTest, UnknownDtypeIsAnInternalError) {
  jina::DataRequestProto request;
  Doc doc(request.mutable_data()->mutable_docs()->add_docs());
  docarray::DenseNdArrayProto* dense = doc.mutable_node("h")->mutable_ndarray()->mutable_dense();
  dense->set_dtype("<f2");
  dense->add_shape(1);
  dense->set_buffer("ab");
  StatusOr<std::string> body = DataRequestToJson(request);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(body.status().message(), HasSubstr("data[0].h"));
  EXPECT_THAT(body.status().message(), HasSubstr("<f2"));
}

TEST(HttpJsonTest, ErrorsNameWhatWasWrong) {
  EXPECT_THAT(ErrorOf(R"({"data": [)"), HasSubstr("invalid JSON"));
  EXPECT_THAT(ErrorOf(R"([1, 2])"), HasSubstr("request body: expected a JSON object"));
  EXPECT_THAT(ErrorOf(R"({"data": {"text": "a"}})"), HasSubstr("data: expected a list of docs"));
  EXPECT_THAT(ErrorOf(R"({"data": [{}, {}, {}, {"embedding": ["a"]}]})"),
              HasSubstr("data[3].embedding: expected numbers"));
  EXPECT_THAT(ErrorOf(R"({"data": [{"embedding": [[1, 2], [3]]}]})"),
              HasSubstr("data[0].embedding: expected numbers"));
  EXPECT_THAT(ErrorOf(R"({"data": [{"embedding": 3}]})"),
              HasSubstr("data[0].embedding: expected numbers"));
  EXPECT_THAT(ErrorOf(R"({"data": [{"id": 5}]})"), HasSubstr("data[0].id: expected a string"));
  EXPECT_THAT(ErrorOf(R"({"data": [7]})"), HasSubstr("data[0]: expected a doc"));
  EXPECT_THAT(ErrorOf(R"({"parameters": [1]})"), HasSubstr("parameters: expected an object"));
  EXPECT_THAT(ErrorOf(R"({"execEndpoint": 1})"), HasSubstr("execEndpoint: expected a string"));
}

std::string EmptyDocs(size_t n) {
  std::string body = R"({"data": [)";
  for (size_t i = 0; i < n; ++i) body += i == 0 ? "{}" : ",{}";
  return body + "]}";
}

// A 3 MB body of a million empty docs expanded to gigabytes; the count stops the parse first.
TEST(HttpJsonTest, DocsPerRequestAreBoundedWhileParsing) {
  StatusOr<jina::DataRequestProto> refused = DataRequestFromJson(EmptyDocs(1000000), "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("more docs than max_docs_per_request (10000)"));
  EXPECT_THAT(refused.status().message(), HasSubstr("max_docs_per_request"));

  EXPECT_TRUE(DataRequestFromJson(EmptyDocs(10000), "").ok());
  EXPECT_EQ(DataRequestFromJson(EmptyDocs(10001), "").status().code(),
            absl::StatusCode::kResourceExhausted);
  // Strings in "data" are docs; matches and chunks at any depth count too.
  EXPECT_FALSE(DataRequestFromJson(R"({"data": ["a", "b", "c"]})", "", {.max_docs = 2}).ok());
  EXPECT_FALSE(
      DataRequestFromJson(R"({"data": [{"matches": [{}, {"chunks": [{}]}]}]})", "", {.max_docs = 3})
          .ok());
  EXPECT_TRUE(
      DataRequestFromJson(R"({"data": [{"matches": [{}, {"chunks": [{}]}]}]})", "", {.max_docs = 4})
          .ok());
  // Lists and objects elsewhere are no docs.
  EXPECT_TRUE(
      DataRequestFromJson(R"({"data": [{"tags": [{}, {}, {}]}], "parameters": {"x": [{}]}})", "",
                          {.max_docs = 1})
          .ok());
}

TEST(HttpJsonTest, MemoryABodyExpandsToIsBoundedWhileParsing) {
  std::string values = R"({"data": [{"x": [)";
  for (int i = 0; i < 100000; ++i) values += i == 0 ? "[]" : ",[]";
  values += "]}]}";
  StatusOr<jina::DataRequestProto> refused =
      DataRequestFromJson(values, "", {.max_memory_bytes = 1 << 20});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("max_json_memory_bytes"));
  EXPECT_THAT(refused.status().message(), HasSubstr("max_json_memory_bytes (1048576 bytes)"));
  EXPECT_TRUE(DataRequestFromJson(values, "", {.max_memory_bytes = 64 << 20}).ok());
}

TEST(HttpJsonTest, DeepNestingIsRefused) {
  std::string deep = std::string(200, '[') + std::string(200, ']');
  EXPECT_THAT(ErrorOf(R"({"data": [{"x": )" + deep + "}]}"), HasSubstr("nested too deeply"));
  EXPECT_THAT(ErrorOf(R"({"parameters": {"x": )" + deep + "}}"), HasSubstr("nested too deeply"));
}

TEST(HttpJsonTest, SmallBodies) {
  EXPECT_EQ(Json::parse(ErrorJson("bad \"x\""))["detail"], "bad \"x\"");
  EXPECT_EQ(Json::parse(DryRunJson("")), Json({{"code", 0}, {"description", ""}}));
  EXPECT_EQ(Json::parse(DryRunJson("down"))["code"], 1);
  Json info = Json::parse(InfoJson("g", "1.0", true));
  EXPECT_EQ(info["name"], "g");
  EXPECT_EQ(info["ready"], true);
}

}  // namespace
}  // namespace shoal::gateway
