#include "tests/testing/acked_writes.h"

#include <chrono>

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

}  // namespace shoal::testing
