// `shoal_overload`: what deadlines and cancellation buy under overload, over Jina's gRPC protocol.
//
// --mode overload: an open-loop client sends `--rate` unary requests per second for `--seconds`,
// each with a gRPC deadline of `--deadline-ms`, and counts the answers that came in time. With
// --status (a replica's host:port), it also reads that replica's `_status` before and after, to
// report how many requests the Executor ran and how many it dropped unrun.
//
// --mode cancel: `--rounds` times, a request asks a Sleep replica (through `--target`) to sleep
// `--long-ms` (5 s); once it runs (the replica's `_status` says so), the client cancels it and at
// once sends a request of 0 ms. The time from the cancel to that answer bounds how long the cancel
// took to reach the Executor, the Executor to stop, and the replica to serve again.
//
// Prints one JSON line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/empty.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "jina.grpc.pb.h"
#include "jina.pb.h"

namespace shoal::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUnaryMethod[] = "/jina.JinaSingleDataRequestRPC/process_single_data";

struct Options {
  std::string mode = "overload";
  std::string target;
  std::string status;  // a replica's host:port for _status; empty: none
  std::string endpoint = "/default";
  double rate = 100;
  double seconds = 5;
  int deadline_ms = 100;
  int rounds = 20;
  double ms = -1;         // parameters.ms of every request (overload mode); negative: none
  double long_ms = 5000;  // cancel mode: what the cancelled request asks to sleep
  std::string label;
};

grpc::ByteBuffer Serialized(const jina::DataRequestProto& request) {
  std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

jina::DataRequestProto MakeRequest(const std::string& endpoint, double ms) {
  jina::DataRequestProto request;
  request.mutable_header()->set_exec_endpoint(endpoint);
  request.mutable_header()->set_request_id("overload");
  if (ms >= 0) (*request.mutable_parameters()->mutable_fields())["ms"].set_number_value(ms);
  request.mutable_data()->mutable_docs()->add_docs();
  return request;
}

// The replica's `_status` counters; -1 when it cannot be read.
struct Counters {
  int64_t processed = -1;
  int64_t dropped = -1;
};

Counters ReadStatus(const std::string& address) {
  Counters counters;
  if (address.empty()) return counters;
  auto stub =
      jina::JinaInfoRPC::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  google::protobuf::Empty empty;
  jina::JinaInfoProto info;
  if (!stub->_status(&context, empty, &info).ok()) return counters;
  auto read = [&](const char* key) -> int64_t {
    auto it = info.jina().find(key);
    return it == info.jina().end() ? -1 : std::stoll(it->second);
  };
  counters.processed = read("processed_requests");
  counters.dropped = read("dropped_requests");
  return counters;
}

// Answers of the open-loop run, counted as they come (any gRPC thread).
struct Tally {
  std::atomic<int64_t> ok{0}, expired{0}, other{0}, outstanding{0};
};

struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer request, response;
};

int RunOverload(const Options& options) {
  auto channel = grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "shoal_overload: cannot reach %s\n", options.target.c_str());
    return 2;
  }
  grpc::GenericStub stub(channel);
  const jina::DataRequestProto request = MakeRequest(options.endpoint, options.ms);
  const Counters before = ReadStatus(options.status);
  Tally tally;
  const auto interval = std::chrono::duration<double>(1.0 / options.rate);
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(options.seconds);
  int64_t sent = 0;
  for (auto next = start; next < stop;
       next = start + std::chrono::duration_cast<Clock::duration>(interval * ++sent)) {
    std::this_thread::sleep_until(next);
    auto* call = new Call;
    call->request = Serialized(request);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(options.deadline_ms));
    tally.outstanding.fetch_add(1);
    stub.UnaryCall(&call->context, kUnaryMethod, grpc::StubOptions(), &call->request,
                   &call->response, [call, &tally](grpc::Status status) {
                     if (status.ok()) {
                       tally.ok.fetch_add(1);
                     } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
                       tally.expired.fetch_add(1);
                     } else {
                       tally.other.fetch_add(1);
                     }
                     delete call;
                     tally.outstanding.fetch_sub(1);
                   });
  }
  // Every call has a deadline: all are answered within it (bounded wait, generously).
  const auto give_up =
      Clock::now() + std::chrono::milliseconds(options.deadline_ms) + std::chrono::seconds(10);
  while (tally.outstanding.load() > 0 && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (tally.outstanding.load() > 0) {
    std::fprintf(stderr, "shoal_overload: calls still outstanding past their deadlines\n");
    std::fflush(nullptr);
    std::_Exit(2);
  }
  // The replica finishes what it runs (at most one request) before its counters settle.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Counters after = ReadStatus(options.status);
  const bool counted = before.processed >= 0 && after.processed >= 0;
  std::printf(
      "{\"label\": \"%s\", \"mode\": \"overload\", \"rate\": %.1f, \"seconds\": %.2f, "
      "\"deadline_ms\": %d, \"sent\": %lld, \"ok\": %lld, \"deadline_exceeded\": %lld, "
      "\"other_errors\": %lld, \"ok_per_second\": %.1f, \"executor_runs\": %lld, "
      "\"dropped_unrun\": %lld}\n",
      options.label.c_str(), options.rate, options.seconds, options.deadline_ms,
      static_cast<long long>(sent), static_cast<long long>(tally.ok.load()),
      static_cast<long long>(tally.expired.load()), static_cast<long long>(tally.other.load()),
      tally.ok.load() / options.seconds,
      static_cast<long long>(counted ? after.processed - before.processed : -1),
      static_cast<long long>(counted ? after.dropped - before.dropped : -1));
  return tally.other.load() == 0 ? 0 : 1;
}

// One round of --mode cancel; the microseconds from the cancel to the next answer, or -1.
double CancelRound(jina::JinaSingleDataRequestRPC::Stub& stub, const Options& options) {
  const Counters before = ReadStatus(options.status);
  grpc::ClientContext long_context;
  long_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  jina::DataRequestProto long_request = MakeRequest(options.endpoint, options.long_ms),
                         long_response;
  std::thread sender(
      [&] { (void)stub.process_single_data(&long_context, long_request, &long_response); });
  bool running = false;
  for (int i = 0; i < 2000 && !running; ++i) {  // at most 10 s
    running = ReadStatus(options.status).processed > before.processed;
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto cancelled_at = Clock::now();
  long_context.TryCancel();
  jina::DataRequestProto next = MakeRequest(options.endpoint, 0), answer;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  const bool ok = stub.process_single_data(&context, next, &answer).ok();
  const auto answered_at = Clock::now();
  sender.join();
  if (!running || !ok) return -1;
  return std::chrono::duration<double, std::micro>(answered_at - cancelled_at).count();
}

int RunCancel(const Options& options) {
  if (options.status.empty()) {
    std::fprintf(stderr, "shoal_overload: --mode cancel needs --status (the replica)\n");
    return 3;
  }
  auto stub = jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials()));
  std::vector<double> us;
  int failed = 0;
  for (int r = 0; r < options.rounds; ++r) {
    const double took = CancelRound(*stub, options);
    if (took < 0) {
      ++failed;
    } else {
      us.push_back(took);
    }
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us.empty() ? -1.0 : us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
  };
  std::printf(
      "{\"label\": \"%s\", \"mode\": \"cancel\", \"rounds\": %d, \"failed\": %d, "
      "\"p50_us\": %.0f, \"max_us\": %.0f}\n",
      options.label.c_str(), options.rounds, failed, at(0.5), us.empty() ? -1.0 : us.back());
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  CLI::App app{"Deadlines and cancellation under overload. Prints one JSON line.",
               "shoal_overload"};
  shoal::bench::Options options;
  app.add_option("--mode", options.mode, "overload or cancel")
      ->check(CLI::IsMember({"overload", "cancel"}));
  app.add_option("--target", options.target, "host:port the requests go to")->required();
  app.add_option("--status", options.status, "host:port of the replica whose _status is read");
  app.add_option("--endpoint", options.endpoint, "header.exec_endpoint of each request");
  app.add_option("--rate", options.rate, "overload: requests per second")
      ->check(CLI::Range(1.0, 100000.0));
  app.add_option("--seconds", options.seconds, "overload: seconds of load")
      ->check(CLI::Range(0.1, 120.0));
  app.add_option("--deadline-ms", options.deadline_ms, "overload: each request's deadline")
      ->check(CLI::Range(1, 60000));
  app.add_option("--ms", options.ms, "overload: parameters.ms of each request (Sleep)")
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--rounds", options.rounds, "cancel: rounds")->check(CLI::Range(1, 1000));
  app.add_option("--long-ms", options.long_ms,
                 "cancel: milliseconds the cancelled request asks to sleep (an upper bound of "
                 "each round when the cancel never reaches the Executor)")
      ->check(CLI::Range(1.0, 60000.0));
  app.add_option("--label", options.label, "Free text copied into the JSON line");
  CLI11_PARSE(app, argc, argv);
  return options.mode == "cancel" ? shoal::bench::RunCancel(options)
                                  : shoal::bench::RunOverload(options);
}
