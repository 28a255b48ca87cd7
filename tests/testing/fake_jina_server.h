// An in-process Jina server for client, router and gateway tests: serves JinaRPC/Call,
// JinaSingleDataRequestRPC/process_single_data, JinaDataRequestRPC/process_data and
// JinaDiscoverEndpointsRPC on 127.0.0.1 (port 0), echoes every request, and can be told to
// misbehave (Executor errors, UNAVAILABLE, delays, scripted answers per call) while recording
// what it saw.
#ifndef SHOAL_TESTS_TESTING_FAKE_JINA_SERVER_H_
#define SHOAL_TESTS_TESTING_FAKE_JINA_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "jina.pb.h"
#include "shoal/status.h"

namespace shoal::testing {

// Thread-safe. Owns a gRPC callback server and one timer thread ("fake-timer") that sends
// delayed responses; the destructor shuts both down.
class FakeJinaServer {
 public:
  using Metadata = std::multimap<std::string, std::string>;
  // How long to hold the response to a request before sending it.
  using DelayFn = std::function<absl::Duration(const jina::DataRequestProto&)>;
  // Scripts the answer to a unary call (process_single_data, process_data): gets the request
  // and the response prepared so far (the echo, with any Executor error), may change the
  // response, and returns the call's status (not OK: the call fails with it, no response).
  using AnswerFn =
      std::function<grpc::Status(const jina::DataRequestProto&, jina::DataRequestProto*)>;

  // How a stateful shard's follower refuses a write: UNAVAILABLE "not the leader", naming the
  // leader when one is known, as a Shoal replica answers.
  static grpc::Status NotTheLeader(const std::string& leader = "");

  static StatusOr<std::unique_ptr<FakeJinaServer>> Start();
  ~FakeJinaServer();

  std::string address() const;  // 127.0.0.1:<port>
  int port() const { return port_; }

  // Every response carries an Executor error (header.status ERROR with exception `name` and
  // `description`; trailing metadata is-error: true on unary calls). Empty name: no errors.
  void SetExecutorError(std::string name, std::string description);
  // Only requests for which `pred` holds get the Executor error.
  void SetErrorFilter(std::function<bool(const jina::DataRequestProto&)> pred);
  // The next `n` calls (unary calls or whole streams) fail with UNAVAILABLE.
  void FailNextCalls(int n);
  void SetDelay(DelayFn delay);
  // Responses are held until `n` requests are unanswered (or a stream's input ended), then all
  // are released at once. 0: no holding.
  void SetHoldUntil(int n);
  // The health status reported for service "".
  void SetServing(bool serving);
  // Runs on every later unary call after the other settings applied (nullptr: plain echo).
  void SetAnswer(AnswerFn answer);
  // What endpoint_discovery answers. Until set, it fails with UNIMPLEMENTED, as on a server
  // without the service.
  void SetEndpoints(std::vector<std::string> endpoints);

  // What the server saw.
  std::vector<jina::DataRequestProto> requests() const;
  std::vector<Metadata> call_metadata() const;  // client metadata of each call or stream
  int calls() const;                            // unary calls + streams, failed ones included
  int max_concurrent() const;                   // most requests received but not yet answered
  // The number of parts of each process_data call (whose answer is the first part with the
  // docs of every part, in order).
  std::vector<int> part_counts() const;

  class Impl;

 private:
  FakeJinaServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_FAKE_JINA_SERVER_H_
