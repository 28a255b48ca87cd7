// rpc::PackBatch / UnpackBatch against protobuf's own encoding of shoal.v1.DataRequestBatch.
#include "src/rpc/batch_frames.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/v1/batch.pb.h"

namespace shoal::rpc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

// `bytes` cut into slices of one byte each: varints and messages cross slice boundaries.
grpc::ByteBuffer Fragmented(const std::string& bytes) {
  std::vector<grpc::Slice> slices;
  for (char c : bytes) slices.emplace_back(&c, 1);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (buffer.Length() > 0 && buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices)
      out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

std::vector<std::string> AllBytes(const std::vector<grpc::ByteBuffer>& buffers) {
  std::vector<std::string> out;
  for (const grpc::ByteBuffer& b : buffers) out.push_back(Bytes(b));
  return out;
}

TEST(BatchFramesTest, APackedBatchParsesAsTheProtobufMessage) {
  const std::string big(300, 'b');  // a two-byte length varint
  std::vector<grpc::ByteBuffer> messages;
  messages.push_back(Buffer("first"));
  messages.push_back(Buffer(""));
  messages.push_back(Fragmented(big));
  grpc::ByteBuffer packed = PackBatch(messages);
  EXPECT_TRUE(messages.empty());
  shoal::v1::DataRequestBatch parsed;
  ASSERT_TRUE(parsed.ParseFromString(Bytes(packed)));
  EXPECT_THAT(parsed.messages(), ElementsAre("first", "", big));
}

TEST(BatchFramesTest, UnpacksWhatProtobufEncodes) {
  shoal::v1::DataRequestBatch batch;
  batch.add_messages(std::string(1, 'a'));
  batch.add_messages(std::string());
  batch.add_messages(std::string(70000, 'z'));  // a three-byte length varint
  for (const grpc::ByteBuffer& buffer :
       {Buffer(batch.SerializeAsString()), Fragmented(batch.SerializeAsString())}) {
    StatusOr<std::vector<grpc::ByteBuffer>> unpacked = UnpackBatch(buffer, 10);
    ASSERT_TRUE(unpacked.ok()) << unpacked.status();
    EXPECT_THAT(AllBytes(*unpacked), ElementsAre("a", "", std::string(70000, 'z')));
  }
}

TEST(BatchFramesTest, AnEmptyBatchHasNoMessages) {
  StatusOr<std::vector<grpc::ByteBuffer>> unpacked = UnpackBatch(grpc::ByteBuffer(), 10);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_TRUE(unpacked->empty());
}

TEST(BatchFramesTest, RefusesAnotherField) {
  StatusOr<std::vector<grpc::ByteBuffer>> unpacked =
      UnpackBatch(Buffer(std::string("\x0a\x01x\x12\x01y", 6)), 10);
  ASSERT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unpacked.status().message(), HasSubstr("message #2: expected field 1"));
}

TEST(BatchFramesTest, RefusesALengthPastTheEnd) {
  StatusOr<std::vector<grpc::ByteBuffer>> unpacked = UnpackBatch(Fragmented(std::string("\x0a\x05"
                                                                                        "abc",
                                                                                        5)),
                                                                 10);
  ASSERT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unpacked.status().message(), HasSubstr("message #1 ends past the batch"));
}

TEST(BatchFramesTest, RefusesALengthVarintOfMoreThan32Bits) {
  StatusOr<std::vector<grpc::ByteBuffer>> unpacked =
      UnpackBatch(Buffer(std::string("\x0a\xff\xff\xff\xff\x7f", 6)), 10);
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  unpacked = UnpackBatch(Buffer(std::string("\x0a\xff\xff", 3)), 10);  // cut short
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BatchFramesTest, RefusesMoreMessagesThanTheLimitNamingIt) {
  shoal::v1::DataRequestBatch batch;
  for (int i = 0; i < 4; ++i) batch.add_messages(std::string(1, 'm'));
  EXPECT_TRUE(UnpackBatch(Buffer(batch.SerializeAsString()), 4).ok());
  StatusOr<std::vector<grpc::ByteBuffer>> unpacked =
      UnpackBatch(Buffer(batch.SerializeAsString()), 3);
  ASSERT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unpacked.status().message(), HasSubstr("more than 3 messages"));
}

}  // namespace
}  // namespace shoal::rpc
