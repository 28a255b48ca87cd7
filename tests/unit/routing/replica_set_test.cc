// ReplicaSet's bookkeeping when its membership changes (DNS discovery, scaling): replicas that
// stay keep their load and health, leases of replicas that left are released harmlessly. The
// addresses are never dialled (channels connect lazily and nothing is sent), except by the
// connect-wait test, which dials a server of its own on 127.0.0.1.
#include "src/routing/replica_set.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/unused_port.h"

namespace shoal::routing {
namespace {

using ::testing::ElementsAre;

Address At(int port) { return Address{.host = "127.0.0.1", .port = port}; }

std::vector<std::string> Addresses(const ReplicaSet& set) {
  std::vector<std::string> out;
  for (const ReplicaStats& r : set.Stats()) out.push_back(r.address);
  return out;
}

ReplicaSet::Options Quiet() {
  return ReplicaSet::Options{.name = "set-test", .probe_interval = absl::Hours(1)};
}

TEST(ReplicaSetTest, SetAddressesKeepsTheReplicasThatStayAndAddsAndRemovesTheOthers) {
  ReplicaSet set({At(1), At(2), At(3)}, Quiet());
  std::optional<ReplicaSet::Lease> on_two = set.Acquire(/*tried=*/0b101);
  ASSERT_TRUE(on_two.has_value());
  ASSERT_EQ(on_two->endpoint->address, At(2));
  std::optional<ReplicaSet::Lease> on_three = set.Acquire(/*tried=*/0b011);
  ASSERT_TRUE(on_three.has_value());
  set.SetHealthy(0, false);

  set.SetAddresses({At(3), At(4), At(1)});
  EXPECT_THAT(Addresses(set),
              ElementsAre("grpc://127.0.0.1:3", "grpc://127.0.0.1:4", "grpc://127.0.0.1:1"));
  std::vector<ReplicaStats> stats = set.Stats();
  EXPECT_EQ(stats[0].outstanding, 1);  // 3 kept its call in flight
  EXPECT_FALSE(stats[2].healthy);      // 1 kept its ejection
  EXPECT_TRUE(stats[1].healthy);       // 4 is new

  // 2 left: its lease ends without touching the others; 3's lease finds 3 at its new place.
  set.Release(*on_two, grpc::Status::OK);
  set.Release(*on_three, grpc::Status::OK);
  stats = set.Stats();
  EXPECT_EQ(stats[0].outstanding, 0);
  EXPECT_EQ(stats[1].outstanding, 0);
  EXPECT_EQ(stats[2].outstanding, 0);

  set.SetAddresses({});
  EXPECT_EQ(set.size(), 0u);
  EXPECT_FALSE(set.Acquire(0).has_value());
}

TEST(ReplicaSetTest, SetAddressesWithDuplicatesKeepsOneReplicaPerEntry) {
  ReplicaSet set({At(1)}, Quiet());
  set.SetAddresses({At(1), At(1)});
  EXPECT_THAT(Addresses(set), ElementsAre("grpc://127.0.0.1:1", "grpc://127.0.0.1:1"));
  set.SetAddresses({At(1)});
  EXPECT_EQ(set.size(), 1u);
}

TEST(ReplicaSetTest, AnEndpointsLeaderIsPreferredUntilItRefuses) {
  ReplicaSet set({At(1), At(2), At(3)}, Quiet());
  // Replica 2 is the busiest: least loaded alone would never pick it.
  std::optional<ReplicaSet::Lease> busy = set.Acquire(0b101);
  ASSERT_TRUE(busy.has_value());
  ASSERT_EQ(busy->endpoint->address, At(2));
  set.NoteLeader("/index", *busy);
  for (int i = 0; i < 3; ++i) {
    std::optional<ReplicaSet::Lease> write = set.Acquire(0, "/index");
    ASSERT_TRUE(write.has_value());
    EXPECT_EQ(write->endpoint->address, At(2));
    set.Release(*write, grpc::Status::OK);
  }
  // Other endpoints are balanced as before; a tried leader is skipped.
  std::optional<ReplicaSet::Lease> read = set.Acquire(0, "/search");
  ASSERT_TRUE(read.has_value());
  EXPECT_NE(read->endpoint->address, At(2));
  set.Release(*read, grpc::Status::OK);
  std::optional<ReplicaSet::Lease> retry = set.Acquire(0b010, "/index");
  ASSERT_TRUE(retry.has_value());
  EXPECT_NE(retry->endpoint->address, At(2));
  set.Release(*retry, grpc::Status::OK);
  // A refusal from it ends the preference; the refusal does not eject it.
  grpc::Status refused(grpc::StatusCode::UNAVAILABLE, "not the leader; no leader is known");
  set.ForgetLeader("/index", *busy);
  set.Release(*busy, refused, /*not_leader=*/true);
  EXPECT_TRUE(set.Stats()[1].healthy);
  // Balanced again: with 2 busy, /index goes elsewhere.
  std::optional<ReplicaSet::Lease> hold = set.Acquire(0b101);
  ASSERT_TRUE(hold.has_value());
  std::optional<ReplicaSet::Lease> after = set.Acquire(0, "/index");
  ASSERT_TRUE(after.has_value());
  EXPECT_NE(after->endpoint->address, At(2));
}

// A replica taken out of the set (a rolling update, scaling down) keeps the calls it has: the
// orchestrator waits for them before stopping it.
TEST(ReplicaSetTest, LeftInFlightCountsTheCallsOfAReplicaThatLeft) {
  ReplicaSet set({At(1), At(2)}, Quiet());
  std::optional<ReplicaSet::Lease> first = set.Acquire(/*tried=*/0b10);
  std::optional<ReplicaSet::Lease> second = set.Acquire(/*tried=*/0b10);
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_EQ(first->endpoint->address, At(1));
  EXPECT_EQ(set.LeftInFlight(At(1)), 0);  // still in the set
  set.SetAddresses({At(3), At(2)});
  EXPECT_EQ(set.LeftInFlight(At(1)), 2);
  EXPECT_EQ(set.LeftInFlight(At(2)), 0);
  set.Release(*first, grpc::Status::OK);
  first.reset();
  EXPECT_EQ(set.LeftInFlight(At(1)), 1);
  set.Release(*second, grpc::Status::OK);
  second.reset();
  EXPECT_EQ(set.LeftInFlight(At(1)), 0);
}

TEST(ReplicaSetTest, LeftInFlightDoesNotCountAnIdleHoldOnAReplicaThatLeft) {
  ReplicaSet set({At(1), At(2)}, Quiet());
  std::optional<ReplicaSet::Lease> lease = set.Acquire(/*tried=*/0b10);
  ASSERT_TRUE(lease.has_value());
  ASSERT_EQ(lease->endpoint->address, At(1));
  // A client's Call stream to the replica keeps its endpoint while it has nothing in flight.
  std::shared_ptr<Endpoint> idle_stream = lease->endpoint;
  set.Release(*lease, grpc::Status::OK);
  lease.reset();
  set.SetAddresses({At(3), At(2)});
  EXPECT_EQ(set.LeftInFlight(At(1)), 0);
}

TEST(ReplicaSetTest, ReplacedEndpointsAreDroppedOnceNoCallHoldsThem) {
  ReplicaSet set({At(1), At(2)}, Quiet());
  // A call in flight keeps the endpoint it was sent on, however often the address changes.
  std::optional<ReplicaSet::Lease> in_flight = set.Acquire(/*tried=*/0b10);
  ASSERT_TRUE(in_flight.has_value());
  ASSERT_EQ(in_flight->endpoint->address, At(1));
  for (int i = 0; i < 200; ++i) {
    set.SetAddress(0, At(1000 + i));                     // a replica restarting on another port
    set.SetAddresses({At(2000 + i % 2), At(3000 + i)});  // a DNS name's answers changing
  }
  EXPECT_EQ(in_flight->endpoint->address, At(1));
  EXPECT_EQ(set.retired_size(), 1u);  // the endpoint in flight only
  set.Release(*in_flight, grpc::Status::OK);
  in_flight.reset();
  set.SetAddress(0, At(1));
  EXPECT_EQ(set.retired_size(), 0u);
  set.SetAddresses({});
  EXPECT_EQ(set.retired_size(), 0u);
}

// With a connect wait, a replica that listens joins with its channel connected (its first
// call pays no connection set-up); one that does not listen joins anyway once the wait ends.
TEST(ReplicaSetTest, SetAddressesWithAConnectWaitAddsReplicasConnected) {
  grpc::CallbackGenericService service;  // a server needs a service to start
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(&service);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  ReplicaSet lazy({}, Quiet());
  lazy.SetAddresses({At(port)});
  std::optional<ReplicaSet::Lease> lease = lazy.Acquire(0);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->endpoint->channel->GetState(false), GRPC_CHANNEL_IDLE);
  lazy.Release(*lease, grpc::Status::OK);

  ReplicaSet warm({}, Quiet());
  warm.SetAddresses({At(port)}, absl::Seconds(30));
  lease = warm.Acquire(0);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->endpoint->channel->GetState(false), GRPC_CHANNEL_READY);
  warm.Release(*lease, grpc::Status::OK);

  const int silent = testing::UnusedPort();
  warm.SetAddresses({At(port), At(silent)}, absl::Milliseconds(200));
  EXPECT_EQ(warm.size(), 2u);
  server->Shutdown();
}

}  // namespace
}  // namespace shoal::routing
