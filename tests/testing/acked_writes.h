// Checks on a stateful Deployment after writes: that every acknowledged write reached a given
// replica (ExactNNIndexer), and that the replicas converged to one state (an Executor with
// `/count` answering "<count>" and a "checksum", as ExactNNIndexer and the Python indexer do).
#ifndef SHOAL_TESTS_TESTING_ACKED_WRITES_H_
#define SHOAL_TESTS_TESTING_ACKED_WRITES_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace shoal::testing {

// (doc id, embedding) of a write that was acknowledged.
using AckedWrites = std::vector<std::pair<std::string, std::vector<float>>>;

// Every acknowledged write is on the replica at `address` (host:port): each acked embedding's
// nearest neighbour there (L2, limit 1) is the doc written with it. Reports through gtest.
void ExpectEveryAckedWriteOn(const std::string& address, const AckedWrites& acked);

// "<count>/<checksum>" of the replica at `address` (its `/count`), or "down" when it does not
// answer within a few seconds.
std::string ReplicaState(const std::string& address);

// Waits (bounded: 600 rounds of 50 ms) until every replica of `addresses()` (asked again each
// round) answers the same state, not "down"; returns it. "" and a test failure naming the states
// when they do not converge.
std::string ConvergedState(const std::function<std::vector<std::string>()>& addresses);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_ACKED_WRITES_H_
