// Unit tests of src/gateway/request_head: the header is read without the documents.
#include "src/gateway/request_head.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.pb.h"
#include "shoal/doc.h"

namespace shoal::gateway {
namespace {

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(RequestHeadTest, ReadsHeaderFieldsWhateverComesAround) {
  jina::DataRequestProto request;
  DocList docs(request.mutable_data()->mutable_docs());
  for (int i = 0; i < 50; ++i) docs.Add().set_text("doc");
  request.mutable_header()->set_request_id("abc");
  request.mutable_header()->set_exec_endpoint("/search");
  request.mutable_header()->set_target_executor("enc.*");
  (*request.mutable_parameters()->mutable_fields())["k"].set_number_value(1);
  auto head = ReadRequestHead(Buffer(request.SerializeAsString()));
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->request_id, "abc");
  EXPECT_EQ(head->endpoint, "/search");
  EXPECT_EQ(head->target_executor, "enc.*");
}

TEST(RequestHeadTest, MissingHeaderIsEmpty) {
  auto head = ReadRequestHead(Buffer(""));
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->endpoint, "");
}

TEST(RequestHeadTest, GarbageIsInvalidArgument) {
  auto head = ReadRequestHead(Buffer(std::string("\x0a\xff\xff\xff\xff\x0f junk", 11)));
  EXPECT_EQ(head.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ReadRequestHead(Buffer(std::string("\x00\x00", 2))).ok());
}

TEST(RequestHeadTest, ErrorResponseCarriesTheRequestIdAndMessage) {
  RequestHead head{.request_id = "r1", .endpoint = "/x"};
  grpc::ByteBuffer buffer = ErrorResponse(head, "Deployment 'a' is down");
  grpc::Slice slice;
  ASSERT_TRUE(buffer.DumpToSingleSlice(&slice).ok());
  jina::DataRequestProto response;
  ASSERT_TRUE(response.ParseFromArray(slice.begin(), static_cast<int>(slice.size())));
  EXPECT_EQ(response.header().request_id(), "r1");
  EXPECT_EQ(response.header().status().code(), jina::StatusProto::ERROR);
  EXPECT_THAT(response.header().status().description(), ::testing::HasSubstr("'a'"));
}

}  // namespace
}  // namespace shoal::gateway
