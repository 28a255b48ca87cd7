// `shoal_stream_ttfd`: time to the first streamed document. Calls
// jina.JinaSingleDocumentRequestRPC/stream_doc one call at a time (one document in, the
// endpoint's documents out) and prints one JSON line: percentiles of the time from the call's
// start to its first message, and to its end. Used by bench/run section s to compare a Flow with
// the streaming Executor called directly.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "jina.grpc.pb.h"

namespace shoal::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string target;
  int calls = 200;
  int warmup = 20;
  std::string endpoint = "/generate";
  std::string parameters = R"({"n": 4})";
  std::string label;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

int Run(const Options& options) {
  auto stub = jina::JinaSingleDocumentRequestRPC::NewStub(
      grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials()));
  jina::SingleDocumentRequestProto request;
  request.mutable_header()->set_exec_endpoint(options.endpoint);
  if (!google::protobuf::util::JsonStringToMessage(options.parameters, request.mutable_parameters())
           .ok()) {
    std::fprintf(stderr, "shoal_stream_ttfd: --parameters is not a JSON object\n");
    return 3;
  }
  (*request.mutable_document()->mutable_data())["text"].set_text("hello");
  std::vector<double> first_us, total_us;
  int errors = 0;
  int64_t docs = 0;
  for (int call = 0; call < options.warmup + options.calls; ++call) {
    request.mutable_header()->set_request_id("ttfd-" + std::to_string(call));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const Clock::time_point start = Clock::now();
    auto reader = stub->stream_doc(&context, request);
    jina::SingleDocumentRequestProto message;
    Clock::time_point first{};
    int64_t received = 0;
    while (reader->Read(&message)) {
      if (received++ == 0) first = Clock::now();
    }
    const Clock::time_point end = Clock::now();
    grpc::Status status = reader->Finish();
    if (!status.ok() || received == 0) {
      ++errors;
      if (errors == 1) {
        std::fprintf(stderr, "shoal_stream_ttfd: %s\n", status.error_message().c_str());
      }
      if (call == 0) return 2;
      continue;
    }
    if (call < options.warmup) continue;
    docs += received;
    first_us.push_back(std::chrono::duration<double, std::micro>(first - start).count());
    total_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::printf(
      "{\"label\":\"%s\",\"calls\":%zu,\"docs\":%lld,\"errors\":%d,\"ttfd_p50_us\":%.1f,"
      "\"ttfd_p90_us\":%.1f,\"ttfd_p99_us\":%.1f,\"stream_p50_us\":%.1f,\"stream_p99_us\":%.1f}\n",
      options.label.c_str(), first_us.size(), static_cast<long long>(docs), errors,
      Percentile(first_us, 0.5), Percentile(first_us, 0.9), Percentile(first_us, 0.99),
      Percentile(total_us, 0.5), Percentile(total_us, 0.99));
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  shoal::bench::Options options;
  CLI::App app{
      "Time to the first document of stream_doc calls, one call at a time. Prints one "
      "JSON line."};
  app.add_option("--target", options.target, "host:port")->required();
  app.add_option("--calls", options.calls, "Measured calls")->check(CLI::Range(1, 1000000));
  app.add_option("--warmup", options.warmup, "Calls before measuring")
      ->check(CLI::Range(0, 100000));
  app.add_option("--endpoint", options.endpoint, "The streaming endpoint");
  app.add_option("--parameters", options.parameters, "JSON object: the request's parameters");
  app.add_option("--label", options.label, "Free text copied into the JSON line");
  CLI11_PARSE(app, argc, argv);
  return shoal::bench::Run(options);
}
