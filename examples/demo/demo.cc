// The demo's client: indexes random 128-d documents into an ExactNNIndexer replica, runs
// queries one at a time, and prints a few matches, the indexing rate and query latencies.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "shoal/client.h"

namespace {

std::vector<float> RandomVector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  size_t i = static_cast<size_t>(p * (values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string address;
  int docs = 10000, dim = 128, queries = 100, request_size = 100, limit = 5;
  std::vector<std::string> replicas;
  CLI::App app{"Index random documents into an ExactNNIndexer and query it"};
  app.add_option("--address", address, "host:port of the replica")->required();
  app.add_option("--docs", docs, "Documents to index")->check(CLI::PositiveNumber);
  app.add_option("--dim", dim, "Embedding dimension")->check(CLI::PositiveNumber);
  app.add_option("--queries", queries, "Queries to run")->check(CLI::PositiveNumber);
  app.add_option("--request-size", request_size, "Docs per request")->check(CLI::PositiveNumber);
  app.add_option("--replicas", replicas, "host:port of each replica, to print its doc count")
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  auto client = shoal::Client::Connect(address);
  if (!client.ok()) {
    std::fprintf(stderr, "demo: %s\n", client.status().ToString().c_str());
    return 1;
  }
  std::mt19937 rng(42);
  int made = 0;
  auto start = std::chrono::steady_clock::now();
  auto indexed = client->Post("/index",
                              [&](shoal::Doc& doc) {
                                if (made == docs) return false;
                                doc.set_text("doc-" + std::to_string(made++));
                                doc.set_embedding(RandomVector(rng, dim));
                                return true;
                              },
                              {.request_size = static_cast<size_t>(request_size)});
  double index_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!indexed.ok()) {
    std::fprintf(stderr, "demo: indexing failed: %s\n", indexed.status().ToString().c_str());
    return 1;
  }
  std::printf("indexed %d docs (%d-d) in %.2f s: %.0f docs/s\n", docs, dim, index_seconds,
              docs / index_seconds);

  auto params = shoal::Params::FromJson("{\"limit\": " + std::to_string(limit) + "}");
  std::vector<double> latencies_ms;
  for (int q = 0; q < queries; ++q) {
    shoal::DocList query;
    shoal::Doc doc = query.Add();
    doc.set_text("query-" + std::to_string(q));
    doc.set_embedding(RandomVector(rng, dim));
    auto t0 = std::chrono::steady_clock::now();
    auto result = client->Post("/search", query, {.parameters = *params, .stream = false});
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!result.ok() || result->size() != 1) {
      std::fprintf(stderr, "demo: query %d failed: %s\n", q, result.status().ToString().c_str());
      return 1;
    }
    if (q < 3) {
      shoal::Doc answer = (*result)[0];
      std::vector<double> scores = answer.scores();
      std::printf("%s ->", std::string(answer.text()).c_str());
      shoal::DocList matches = answer.matches();
      for (size_t m = 0; m < matches.size(); ++m) {
        std::printf(" %s (%.3f)", std::string(matches[m].text()).c_str(),
                    m < scores.size() ? scores[m] : 0.0);
      }
      std::printf("\n");
    }
  }
  std::printf("%d queries (top-%d, cosine): p50 %.3f ms, p99 %.3f ms\n", queries, limit,
              Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.99));
  // Every replica's own count (reads are served by any replica).
  for (size_t r = 0; r < replicas.size(); ++r) {
    auto replica = shoal::Client::Connect(replicas[r]);
    auto count = replica.ok() ? replica->Post("/count", shoal::DocList(), {.stream = false})
                              : shoal::StatusOr<shoal::DocList>(replica.status());
    if (!count.ok() || count->size() != 1) {
      std::fprintf(stderr, "demo: replica %s: %s\n", replicas[r].c_str(),
                   count.status().ToString().c_str());
      return 1;
    }
    std::printf("replica %zu (%s): %s docs\n", r, replicas[r].c_str(),
                std::string((*count)[0].text()).c_str());
  }
  return 0;
}
