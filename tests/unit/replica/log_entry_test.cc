// Tests of the Raft log entry format: a request alone is stored as its bytes (what every older
// Shoal wrote), several as a version 2 batch; damaged entries are refused naming the damage.
#include "src/replica/log_entry.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.pb.h"

namespace shoal::replica {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Request(const std::string& id) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(id);
  request.mutable_header()->set_exec_endpoint("/index");
  return request.SerializeAsString();
}

TEST(LogEntryTest, ARequestAloneIsStoredAsTheBytesItArrivedAs) {
  const std::string request = Request("r1");
  EXPECT_EQ(EncodeLogEntry({request}), request);
}

TEST(LogEntryTest, AnEntryOfAnOlderShoalIsOneRequest) {
  // Before group commit every entry was one serialized DataRequestProto, empty ones included.
  const std::string old_entry = Request("old");
  StatusOr<std::vector<std::string_view>> decoded = DecodeLogEntry(old_entry);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(*decoded, ElementsAre(old_entry));
  decoded = DecodeLogEntry("");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(*decoded, ElementsAre(""));
}

TEST(LogEntryTest, SeveralRequestsRoundTripInOrder) {
  const std::vector<std::string> requests = {Request("a"), "", Request("c"), std::string(300, 'x')};
  const std::string entry = EncodeLogEntry(requests);
  EXPECT_EQ(entry.substr(0, 3), std::string("\0S\x02", 3));
  StatusOr<std::vector<std::string_view>> decoded = DecodeLogEntry(entry);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(*decoded, ElementsAre(requests[0], requests[1], requests[2], requests[3]));
}

TEST(LogEntryTest, ADamagedBatchIsRefusedNamingWhere) {
  const std::string entry = EncodeLogEntry({Request("a"), Request("b")});
  struct Case {
    std::string entry;
    std::string says;
  };
  const std::vector<Case> cases = {
      {entry.substr(0, entry.size() - 1), "request 2 of 2 is cut short"},
      {entry + "zz", "2 bytes follow the last request"},
      {std::string("\0S\x02", 3), "the request count is cut short"},
      {std::string("\0S\x02\x00", 4), "it holds 0 requests"},
      {std::string("\0X", 2), "not with a version header"},
  };
  for (const Case& c : cases) {
    StatusOr<std::vector<std::string_view>> decoded = DecodeLogEntry(c.entry);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << c.says;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(c.says));
  }
  StatusOr<std::vector<std::string_view>> newer = DecodeLogEntry(std::string("\0S\x03\x01", 4));
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(newer.status().message()), HasSubstr("version 3"));
}

}  // namespace
}  // namespace shoal::replica
