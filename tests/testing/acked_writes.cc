#include "tests/testing/acked_writes.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "shoal/client.h"
#include "shoal/params.h"

namespace shoal::testing {

void ExpectEveryAckedWriteOn(const std::string& address, const AckedWrites& acked) {
  DocList queries;
  for (const auto& [id, vector] : acked) queries.Add().set_embedding(vector);
  auto client = Client::Connect(address);
  ASSERT_TRUE(client.ok()) << client.status();
  auto result = client->Post("/search", queries,
                             {.request_size = 1000,
                              .parameters = *Params::FromJson(R"({"limit": 1})"),
                              // the i-th answer is the i-th query's, whichever request ends first
                              .results_in_order = true,
                              .stream = false,
                              .timeout = std::chrono::milliseconds(30000)});
  ASSERT_TRUE(result.ok()) << address << ": " << result.status();
  ASSERT_EQ(result->size(), acked.size());
  int missing = 0;
  for (size_t i = 0; i < acked.size(); ++i) {
    auto matches = (*result)[i].matches();
    if (matches.size() != 1 || matches[0].id() != acked[i].first) ++missing;
  }
  EXPECT_EQ(missing, 0) << address << " lost " << missing << " of " << acked.size()
                        << " acknowledged writes";
}

std::string ReplicaState(const std::string& address) {
  using std::chrono::milliseconds;
  auto client = Client::Connect(address, {.connect_timeout = milliseconds(2000)});
  if (!client.ok()) return "down";
  auto answer = client->Post("/count", DocList(), {.stream = false, .timeout = milliseconds(3000)});
  if (!answer.ok() || answer->size() != 1) return "down";
  return std::string((*answer)[0].text()) + "/" +
         std::string((*answer)[0].GetText("checksum").value_or(""));
}

std::string ConvergedState(const std::function<std::vector<std::string>()>& addresses) {
  std::vector<std::string> states;
  for (int i = 0; i < 600; ++i) {
    states.clear();
    for (const std::string& address : addresses()) states.push_back(ReplicaState(address));
    if (!states.empty() && states[0] != "down" &&
        std::all_of(states.begin(), states.end(),
                    [&](const std::string& s) { return s == states[0]; })) {
      return states[0];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "replicas did not converge: " << ::testing::PrintToString(states);
  return "";
}

}  // namespace shoal::testing
