// Tests of Params: typed reads of a JSON object carried as google.protobuf.Struct, the way Jina
// sends request parameters, and the lifetime of owned and borrowed views.
#include "shoal/params.h"

#include <string>
#include <utility>

#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

Params Parse(std::string_view json) {
  std::string error;
  std::optional<Params> params = Params::FromJson(json, &error);
  EXPECT_TRUE(params.has_value()) << error;
  return params ? *std::move(params) : Params();
}

TEST(ParamsTest, TypedReads) {
  Params p = Parse(R"({"limit": 5, "ratio": 0.25, "on": true, "name": "x", "big": 1e30})");
  EXPECT_FALSE(p.empty());
  EXPECT_TRUE(p.Has("limit"));
  EXPECT_FALSE(p.Has("absent"));
  EXPECT_EQ(p.GetInt("limit"), 5);
  EXPECT_EQ(p.GetDouble("limit"), 5.0);
  EXPECT_EQ(p.GetDouble("ratio"), 0.25);
  EXPECT_EQ(p.GetInt("ratio"), std::nullopt);  // not whole
  EXPECT_EQ(p.GetInt("big"), std::nullopt);    // out of int64 range
  EXPECT_EQ(p.GetBool("on"), true);
  EXPECT_EQ(p.GetString("name"), "x");
  EXPECT_EQ(p.GetString("limit"), std::nullopt);
  EXPECT_EQ(p.GetBool("name"), std::nullopt);
  EXPECT_EQ(p.GetDouble("name"), std::nullopt);
}

TEST(ParamsTest, GetWithFallback) {
  Params p = Parse(R"({"limit": 5, "ms": 2.5, "flag": false, "s": "v", "huge": 1e12})");
  EXPECT_EQ(p.Get("limit", 10), 5);
  EXPECT_EQ(p.Get("absent", 10), 10);
  EXPECT_EQ(p.Get("ms", 7), 7);  // 2.5 is not an int
  EXPECT_EQ(p.Get("ms", 0.0), 2.5);
  EXPECT_EQ(p.Get("huge", 3), 3);  // does not fit an int
  EXPECT_EQ(p.Get("huge", int64_t{3}), int64_t{1000000000000});
  EXPECT_EQ(p.Get("flag", true), false);
  EXPECT_EQ(p.Get("s", "fallback"), "v");
  EXPECT_EQ(p.Get("absent", "fallback"), "fallback");
  EXPECT_EQ(p.Get("limit", "fallback"), "fallback");
}

TEST(ParamsTest, NestedObjectsOutliveTheirParent) {
  Params nested;
  {
    Params p = Parse(R"({"indexer": {"limit": 3, "deep": {"x": "y"}}})");
    nested = p.GetObject("indexer");
  }
  EXPECT_EQ(nested.GetInt("limit"), 3);
  EXPECT_EQ(nested.GetObject("deep").GetString("x"), "y");
  EXPECT_TRUE(nested.GetObject("absent").empty());
  EXPECT_TRUE(nested.GetObject("limit").empty());
}

TEST(ParamsTest, BorrowsAStruct) {
  google::protobuf::Struct object;
  (*object.mutable_fields())["n"].set_number_value(4);
  Params p(&object);
  EXPECT_EQ(p.GetInt("n"), 4);
  EXPECT_EQ(&p.proto(), &object);
  Params copy = p;
  EXPECT_EQ(&copy.proto(), &object);
}

TEST(ParamsTest, CopiesShareAndMovesLeaveEmpty) {
  Params p = Parse(R"({"a": 1})");
  Params copy = p;
  EXPECT_EQ(&copy.proto(), &p.proto());
  Params moved = std::move(p);
  EXPECT_EQ(moved.GetInt("a"), 1);
  EXPECT_TRUE(p.empty());  // NOLINT(bugprone-use-after-move): a moved-from view is empty
  Params assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.GetInt("a"), 1);
  EXPECT_EQ(copy.GetInt("a"), 1);
}

TEST(ParamsTest, EmptyAndNull) {
  Params empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.Has("x"));
  EXPECT_EQ(empty.ToJson(), "{}");
  Params null_view(nullptr);
  EXPECT_TRUE(null_view.empty());
  EXPECT_TRUE(Parse("{}").empty());
}

TEST(ParamsTest, RejectsWhatIsNotAJsonObject) {
  for (std::string_view bad : {"", "[1, 2]", "3", "{\"a\": }", "{\"a\": 1"}) {
    std::string error;
    EXPECT_FALSE(Params::FromJson(bad, &error).has_value()) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_FALSE(Params::FromJson("nope").has_value());
}

TEST(ParamsTest, JsonRoundTrip) {
  Params p = Parse(R"({"a": 1, "b": [true, null, "s"], "c": {"d": 0.5}})");
  Params again = Parse(p.ToJson());
  EXPECT_EQ(again.GetInt("a"), 1);
  EXPECT_EQ(again.GetObject("c").GetDouble("d"), 0.5);
  EXPECT_EQ(again.proto().fields().at("b").list_value().values_size(), 3);
}

}  // namespace
}  // namespace shoal
