// Internal to http_json.cc: counts docs and memory while nlohmann::json parses a request body
// (as its parser callback), and stops the parse by throwing once a JsonLimits bound is passed.
#ifndef SHOAL_GATEWAY_JSON_LIMIT_COUNTER_H_
#define SHOAL_GATEWAY_JSON_LIMIT_COUNTER_H_

#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shoal/status.h"
#include "src/gateway/http_json.h"

namespace shoal::gateway::internal {

using Json = nlohmann::json;

// Thrown from the parser's callback to stop parsing; caught in DataRequestFromJson.
struct OverJsonLimit : std::exception {
  explicit OverJsonLimit(Status s) : status(std::move(s)) {}
  const char* what() const noexcept override { return "over a request limit"; }
  Status status;
};

// Counts docs and estimated memory as the parser reports values. The costs are upper bounds
// of what nlohmann::json holds per value (16 bytes, plus vector slack), per object (a std::map)
// and per key (a map node with its string).
class JsonLimitCounter {
 public:
  explicit JsonLimitCounter(const JsonLimits& limits) : limits_(limits) {}

  bool operator()(int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        CountDoc();
        Charge(96);
        frames_.push_back({.is_array = false, .key = ChildKey()});
        break;
      case Json::parse_event_t::array_start:
        Charge(64);
        frames_.push_back({.is_array = true, .key = ChildKey()});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!frames_.empty()) frames_.back().last_key = parsed.get_ref<const std::string&>();
        Charge(96 + parsed.get_ref<const std::string&>().size());
        break;
      case Json::parse_event_t::value:
        if (parsed.is_string()) {
          CountDoc();  // a string in "data" is a doc
          Charge(64 + parsed.get_ref<const std::string&>().size());
        } else {
          Charge(32);
        }
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool is_array = false;
    std::string key;       // the key this container is the value of ("" in an array)
    std::string last_key;  // objects: the key being read
  };

  // The key a value starting now is under.
  std::string ChildKey() const {
    if (frames_.empty() || frames_.back().is_array) return "";
    return frames_.back().last_key;
  }

  // A value starting now is a doc when it is an item of the top-level "data" list, or of a
  // "matches" or "chunks" list.
  void CountDoc() {
    if (frames_.empty() || !frames_.back().is_array) return;
    const std::string& list = frames_.back().key;
    bool docs = frames_.size() == 2 ? list == "data" : (list == "matches" || list == "chunks");
    if (!docs || ++docs_ <= limits_.max_docs) return;
    throw OverJsonLimit(absl::ResourceExhaustedError(
        absl::StrCat("the request has more docs than max_docs_per_request (", limits_.max_docs,
                     "), matches and chunks included; send fewer docs per request, or raise it "
                     "(`max_docs_per_request` in the Flow's `with:`, 0: no limit)")));
  }

  void Charge(size_t bytes) {
    bytes_ += bytes;
    if (bytes_ <= limits_.max_memory_bytes) return;
    throw OverJsonLimit(absl::ResourceExhaustedError(absl::StrCat(
        "the request body expands past max_json_memory_bytes (", limits_.max_memory_bytes,
        " bytes) in memory; send fewer or smaller docs per request")));
  }

  const JsonLimits limits_;
  std::vector<Frame> frames_;
  size_t docs_ = 0;
  size_t bytes_ = 0;
};

}  // namespace shoal::gateway::internal

#endif  // SHOAL_GATEWAY_JSON_LIMIT_COUNTER_H_
