// The metrics facade: what each handle records, under the documented names and labels, as
// Prometheus' text format renders it; and the exposer's port handling.
#include "src/metrics/metrics.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/metrics/exposer.h"

namespace shoal::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// What a scrape of /metrics returns: the registry collected and serialized as text.
std::string Scrape() { return prometheus::TextSerializer().Serialize(Registry()->Collect()); }

TEST(MetricsTest, ReplicaEndpointCountersAndLatencyRenderWithTheirLabels) {
  EndpointMetrics m = ForReplicaEndpoint("indexer", "indexer/rep-0", "/index");
  for (int i = 0; i < 3; ++i) m.requests.Increment();
  m.failures.Increment();
  m.latency.Observe(0.002);
  m.latency.Observe(20.0);

  std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE shoal_replica_requests_total counter"));
  EXPECT_THAT(text, HasSubstr("shoal_replica_requests_total{deployment=\"indexer\","
                              "endpoint=\"/index\",replica=\"indexer/rep-0\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("shoal_replica_failures_total{deployment=\"indexer\","
                              "endpoint=\"/index\",replica=\"indexer/rep-0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE shoal_replica_request_duration_seconds histogram"));
  const std::string series =
      "shoal_replica_request_duration_seconds_bucket{deployment=\"indexer\",endpoint=\"/index\","
      "replica=\"indexer/rep-0\",le=";
  EXPECT_THAT(text, HasSubstr(series + "\"5e-05\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(series + "\"0.001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(series + "\"0.0025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(series + "\"10\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(series + "\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("shoal_replica_request_duration_seconds_count{deployment=\"indexer\","
                              "endpoint=\"/index\",replica=\"indexer/rep-0\"} 2\n"));
}

TEST(MetricsTest, HandlesWithTheSameLabelsShareOneSeries) {
  Counter a = ForReplicaEndpoint("shared", "shared/rep-0", "/a").requests;
  Counter b = ForReplicaEndpoint("shared", "shared/rep-0", "/a").requests;
  Counter other = ForReplicaEndpoint("shared", "shared/rep-0", "/b").requests;
  a.Increment();
  b.Increment();
  EXPECT_EQ(a.Value(), 2);
  EXPECT_EQ(other.Value(), 0);
}

TEST(MetricsTest, ReplicaInFlightGoesUpAndDown) {
  Gauge g = ReplicaInFlight("busy", "busy/rep-1");
  g.Increment();
  g.Increment();
  g.Decrement();
  EXPECT_THAT(Scrape(), HasSubstr("shoal_replica_in_flight{deployment=\"busy\","
                                  "replica=\"busy/rep-1\"} 1\n"));
}

TEST(MetricsTest, RouterMetricsArePerDeploymentAndReplicaAddress) {
  RouteMetrics r = ForRoute("router", "127.0.0.1:4567");
  r.requests.Increment();
  r.requests.Increment();
  r.failures.Increment();
  r.retries.Increment();
  r.ejections.Increment();
  r.in_flight.Increment();

  std::string text = Scrape();
  const std::string labels = "{deployment=\"router\",replica=\"127.0.0.1:4567\"}";
  EXPECT_THAT(text, HasSubstr("shoal_router_requests_total" + labels + " 2\n"));
  EXPECT_THAT(text, HasSubstr("shoal_router_failures_total" + labels + " 1\n"));
  EXPECT_THAT(text, HasSubstr("shoal_router_retries_total" + labels + " 1\n"));
  EXPECT_THAT(text, HasSubstr("shoal_router_ejections_total" + labels + " 1\n"));
  EXPECT_THAT(text, HasSubstr("shoal_router_in_flight" + labels + " 1\n"));
}

TEST(MetricsTest, RestartsArePerReplicaName) {
  Counter restarts = ReplicaRestarts(DeploymentOf("crashy/shard-1/rep-0"), "crashy/shard-1/rep-0");
  restarts.Increment();
  EXPECT_THAT(Scrape(), HasSubstr("shoal_replica_restarts_total{deployment=\"crashy\","
                                  "replica=\"crashy/shard-1/rep-0\"} 1\n"));
}

TEST(MetricsTest, DefaultHandlesRecordNothing) {
  Counter counter;
  Gauge gauge;
  Histogram histogram;
  counter.Increment();
  gauge.Increment();
  histogram.Observe(1.0);
  EXPECT_EQ(counter.Value(), 0);
  EXPECT_EQ(gauge.Value(), 0);
}

TEST(MetricsTest, RenderTextListsAFamilyOnceItHasASeries) {
  EXPECT_THAT(RenderText(), Not(HasSubstr("deployment=\"rendered\"")));
  ForRoute("rendered", "10.0.0.1:1").requests.Increment();
  std::string text = RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE shoal_router_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("shoal_router_requests_total{deployment=\"rendered\","
                              "replica=\"10.0.0.1:1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("shoal_router_retries_total{deployment=\"rendered\","
                              "replica=\"10.0.0.1:1\"} 0\n"));
}

TEST(MetricsTest, SamplersAreReadAtEachScrapeUntilTheirRegistrationEnds) {
  std::atomic<int> value{1};
  {
    SamplerRegistration registration =
        AddSampler({{"deployment", "sampled"}, {"replica", "sampled/rep-0"}}, [&value] {
          return std::vector<Sample>{
              {.name = "shoal_test_sampled", .help = "A sampled gauge", .value = 1.0 * value},
              {.name = "shoal_test_role",
               .help = "A labelled one",
               .labels = {{"role", "x"}},
               .value = 1}};
        });
    std::string text = RenderText();
    EXPECT_THAT(text, HasSubstr("# TYPE shoal_test_sampled gauge\n"));
    EXPECT_THAT(text, HasSubstr("shoal_test_sampled{deployment=\"sampled\","
                                "replica=\"sampled/rep-0\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("shoal_test_role{deployment=\"sampled\","
                                "replica=\"sampled/rep-0\",role=\"x\"} 1\n"));
    value = 7;
    EXPECT_THAT(RenderText(), HasSubstr("replica=\"sampled/rep-0\"} 7\n"));
  }
  EXPECT_THAT(RenderText(), Not(HasSubstr("shoal_test_sampled")));
}

TEST(ExposerTest, BindsAFreePortAndNamesTheAddressWhenThePortIsTaken) {
  StatusOr<std::unique_ptr<Exposer>> first = StartExposer("127.0.0.1", 0);
  ASSERT_TRUE(first.ok()) << first.status();
  int port = (*first)->port();
  EXPECT_GT(port, 0);

  StatusOr<std::unique_ptr<Exposer>> second = StartExposer("127.0.0.1", port);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("127.0.0.1:" + std::to_string(port)));

  first->reset();  // the port is released with the exposer
  StatusOr<std::unique_ptr<Exposer>> again = StartExposer("127.0.0.1", port);
  EXPECT_TRUE(again.ok()) << again.status();
}

}  // namespace
}  // namespace shoal::metrics
