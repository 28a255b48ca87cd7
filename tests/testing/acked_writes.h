// Checks on a stateful Deployment of ExactNNIndexer after writes: that every acknowledged write
// reached a given replica.
#ifndef SHOAL_TESTS_TESTING_ACKED_WRITES_H_
#define SHOAL_TESTS_TESTING_ACKED_WRITES_H_

#include <string>
#include <utility>
#include <vector>

namespace shoal::testing {

// (doc id, embedding) of a write that was acknowledged.
using AckedWrites = std::vector<std::pair<std::string, std::vector<float>>>;

// Every acknowledged write is on the replica at `address` (host:port): each acked embedding's
// nearest neighbour there (L2, limit 1) is the doc written with it. Reports through gtest.
void ExpectEveryAckedWriteOn(const std::string& address, const AckedWrites& acked);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_ACKED_WRITES_H_
