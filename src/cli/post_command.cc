// `shoal post HOST:PORT --on /x`: posts documents read from a JSON Lines file (or random ones)
// to a Shoal or Jina server, prints a summary and optionally writes the returned docs as JSON
// Lines.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "docarray.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "shoal/client.h"
#include "src/cli/commands.h"
#include "src/rpc/auth.h"

namespace shoal::cli {
namespace {

constexpr int kMaxInt = std::numeric_limits<int>::max();

struct PostFlags {
  std::string address;
  std::string on;
  std::string input;
  int random = 0;
  int dim = 128;
  uint64_t seed = 0;
  int request_size = 100;
  std::string parameters = "{}";
  bool stream = true;
  std::string target_executor;
  int prefetch = 0;
  bool results_in_order = false;
  int timeout_ms = 0;
  int max_attempts = 1;
  bool continue_on_error = false;
  std::string output;
  bool stream_doc = false;
  TlsFiles tls;
  std::string auth_token_file;
};

// --- Reading JSON Lines ------------------------------------------------------------------------

// Sets one JSON value as field `key` of `doc`: id, text, embedding, or another scalar field.
Status SetField(Doc& doc, const std::string& key, const google::protobuf::Value& value) {
  using google::protobuf::Value;
  if (key == "embedding") {
    if (value.kind_case() != Value::kListValue) {
      return absl::InvalidArgumentError("\"embedding\" must be a list of numbers");
    }
    std::vector<float> floats;
    for (const Value& item : value.list_value().values()) {
      if (item.kind_case() != Value::kNumberValue) {
        return absl::InvalidArgumentError("\"embedding\" must be a list of numbers");
      }
      floats.push_back(static_cast<float>(item.number_value()));
    }
    doc.set_embedding(floats);
    return absl::OkStatus();
  }
  switch (value.kind_case()) {
    case Value::kStringValue:
      if (key == "id") {
        doc.set_id(value.string_value());
      } else {
        doc.SetText(key, value.string_value());
      }
      return absl::OkStatus();
    case Value::kNumberValue: {
      if (key == "id") break;
      double number = value.number_value();
      // docarray's integers are int32 on the wire; other numbers travel as floats.
      if (std::trunc(number) == number && std::abs(number) <= 2147483647.0) {
        doc.SetInt(key, static_cast<int32_t>(number));
      } else {
        doc.SetDouble(key, number);
      }
      return absl::OkStatus();
    }
    case Value::kBoolValue:
      if (key == "id") break;
      doc.SetBool(key, value.bool_value());
      return absl::OkStatus();
    case Value::kNullValue:
      return absl::OkStatus();
    default:
      break;
  }
  if (key == "id") return absl::InvalidArgumentError("\"id\" must be a string");
  return absl::InvalidArgumentError(
      absl::StrCat("field \"", key,
                   "\": only strings, numbers, booleans and \"embedding\" are "
                   "supported"));
}

Status ParseLine(const std::string& line, DocList& docs) {
  google::protobuf::Struct object;
  auto parsed = google::protobuf::util::JsonStringToMessage(line, &object);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", std::string(parsed.message())));
  }
  Doc doc = docs.Add();
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.fields()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    Status status = SetField(doc, key, object.fields().at(key));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

StatusOr<DocList> ReadJsonLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  DocList docs;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    Status status = ParseLine(line, docs);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", status.message()));
    }
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading ", path, " failed"));
  return docs;
}

DocList RandomDocs(int n, int dim, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<float> normal;
  DocList docs;
  std::vector<float> embedding(static_cast<size_t>(dim));
  for (int i = 0; i < n; ++i) {
    for (float& x : embedding) x = normal(engine);
    Doc doc = docs.Add();
    doc.set_text(absl::StrCat("random doc ", i));
    doc.set_embedding(embedding);
  }
  return docs;
}

// --- Writing JSON Lines ------------------------------------------------------------------------

std::string JsonString(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string JsonNumber(double x) {
  if (!std::isfinite(x)) return "null";
  std::string shortest = absl::StrFormat("%.9g", x);
  return std::stod(shortest) == x ? shortest : absl::StrFormat("%.17g", x);
}

// Embeddings are float32: nine significant digits round-trip.
std::string JsonFloat(float x) {
  if (!std::isfinite(x)) return "null";
  return absl::StrFormat("%.9g", x);
}

// A scalar node as JSON, or "" for kinds the output leaves out.
std::string ScalarJson(const docarray::NodeProto& node) {
  switch (node.content_case()) {
    case docarray::NodeProto::kText:
      return JsonString(node.text());
    case docarray::NodeProto::kInteger:
      return absl::StrCat(node.integer());
    case docarray::NodeProto::kFloat:
      return JsonNumber(node.float_());
    case docarray::NodeProto::kBoolean:
      return node.boolean() ? "true" : "false";
    default:
      return "";
  }
}

std::string DocJson(Doc doc) {
  std::string out = absl::StrCat("{\"id\":", JsonString(doc.id()));
  if (doc.Has("text")) absl::StrAppend(&out, ",\"text\":", JsonString(doc.text()));
  std::span<const float> embedding = doc.embedding();
  if (!embedding.empty()) {
    absl::StrAppend(&out, ",\"embedding\":[");
    for (size_t i = 0; i < embedding.size(); ++i) {
      absl::StrAppend(&out, i > 0 ? "," : "", JsonFloat(embedding[i]));
    }
    out += "]";
  }
  if (doc.Has("matches")) {
    std::vector<double> scores = doc.scores();
    DocList matches = doc.matches();
    absl::StrAppend(&out, ",\"matches\":[");
    for (size_t i = 0; i < matches.size(); ++i) {
      absl::StrAppend(&out, i > 0 ? "," : "", "{\"id\":", JsonString(matches[i].id()));
      if (i < scores.size()) absl::StrAppend(&out, ",\"score\":", JsonNumber(scores[i]));
      out += "}";
    }
    out += "]";
  }
  std::vector<std::string> keys;
  for (const auto& [key, node] : doc.proto().data()) {
    if (key != "id" && key != "text" && key != "embedding" && key != "matches" && key != "scores") {
      keys.push_back(key);
    }
  }
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    std::string value = ScalarJson(doc.proto().data().at(key));
    if (!value.empty()) absl::StrAppend(&out, ",", JsonString(key), ":", value);
  }
  return out + "}";
}

Status WriteJsonLines(const std::string& path, const DocList& docs) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  for (Doc doc : docs) out << DocJson(doc) << "\n";
  out.flush();
  if (!out) return absl::DataLossError(absl::StrCat("writing ", path, " failed"));
  return absl::OkStatus();
}

// --- The command -------------------------------------------------------------------------------

int Fail(const Status& status) {
  std::cerr << "shoal post: " << status.message() << "\n";
  return 1;
}

// --stream-doc: the first input doc (else an empty one) to a streaming endpoint; each document
// it sends is printed (or written to --output) as a JSON line as it arrives.
int StreamDoc(const PostFlags& flags, Client& client, const Params& parameters,
              const DocList& inputs) {
  DocList empty;
  Doc input = inputs.empty() ? empty.Add() : inputs[0];
  std::ofstream file;
  if (!flags.output.empty()) file.open(flags.output);
  std::ostream& out = flags.output.empty() ? std::cout : file;
  if (!out) return Fail(absl::InvalidArgumentError(absl::StrCat("cannot write ", flags.output)));
  size_t received = 0;
  Status status = client.StreamDoc(
      flags.on, input,
      [&](const Doc& doc) {
        out << DocJson(doc) << "\n" << std::flush;
        ++received;
        return true;
      },
      {.parameters = parameters, .timeout = std::chrono::milliseconds(flags.timeout_ms)});
  std::cerr << absl::StrFormat("shoal post: %d docs streamed from %s at %s\n", received, flags.on,
                               flags.address);
  return status.ok() ? 0 : Fail(status);
}

int RunPost(const PostFlags& flags) {
  std::string error;
  std::optional<Params> parameters = Params::FromJson(flags.parameters, &error);
  if (!parameters.has_value()) return Fail(absl::InvalidArgumentError("--parameters: " + error));
  StatusOr<DocList> inputs = DocList();
  if (!flags.input.empty()) inputs = ReadJsonLines(flags.input);
  if (flags.random > 0) inputs = RandomDocs(flags.random, flags.dim, flags.seed);
  if (!inputs.ok()) return Fail(inputs.status());

  StatusOr<std::string> token = rpc::LoadAuthToken(flags.auth_token_file);
  if (!token.ok()) {
    std::cerr << "shoal post: " << token.status().message() << "\n";
    return 2;
  }
  StatusOr<Client> client = Client::Connect(flags.address, {.auth_token = *token,
                                                            .ssl_cafile = flags.tls.cafile,
                                                            .ssl_certfile = flags.tls.certfile,
                                                            .ssl_keyfile = flags.tls.keyfile});
  if (!client.ok()) return Fail(client.status());
  if (flags.stream_doc) return StreamDoc(flags, *client, *parameters, *inputs);
  PostOptions options;
  options.request_size = static_cast<size_t>(flags.request_size);
  options.parameters = *parameters;
  options.target_executor = flags.target_executor;
  options.prefetch = static_cast<size_t>(flags.prefetch);
  options.results_in_order = flags.results_in_order;
  options.stream = flags.stream;
  options.timeout = std::chrono::milliseconds(flags.timeout_ms);
  options.max_attempts = flags.max_attempts;
  options.continue_on_error = flags.continue_on_error;
  options.show_progress = true;
  if (flags.continue_on_error) {
    options.on_error = [](const Response& response) {
      std::cerr << "shoal post: request " << response.request_id()
                << " failed: " << response.exception_name() << ": " << response.error() << "\n";
    };
  }

  absl::Time start = absl::Now();
  StatusOr<DocList> results = client->Post(flags.on, *inputs, options);
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!results.ok()) return Fail(results.status());
  size_t sent = inputs->size();
  size_t requests = sent == 0 || options.request_size == 0
                        ? 1
                        : (sent + options.request_size - 1) / options.request_size;
  std::cout << absl::StrFormat(
      "posted %d docs in %d requests to %s at %s: %d docs back in %.3f s (%.0f docs/s)\n", sent,
      requests, flags.on, flags.address, results->size(), seconds,
      seconds > 0 ? static_cast<double>(sent) / seconds : 0.0);
  if (!flags.output.empty()) {
    Status written = WriteJsonLines(flags.output, *results);
    if (!written.ok()) return Fail(written);
  }
  return 0;
}

}  // namespace

Command AddPostCommand(CLI::App& app) {
  auto flags = std::make_shared<PostFlags>();
  CLI::App* sub = app.add_subcommand("post", "Post documents to an endpoint of a server");
  sub->add_option("address", flags->address, "host:port of the server (grpcs://host:port: TLS)")
      ->required();
  AddCallerOptions(sub, &flags->tls, &flags->auth_token_file);
  sub->add_option("--on", flags->on, "Endpoint, e.g. /index")->required();
  CLI::Option* input = sub->add_option(
      "--input", flags->input,
      "JSON Lines file: one object per line with id, text, embedding and scalar fields");
  CLI::Option* random =
      sub->add_option("--random", flags->random, "Post N random docs instead of --input")
          ->check(CLI::Range(1, kMaxInt));
  input->excludes(random);
  sub->add_option("--dim", flags->dim, "Embedding size of --random docs")
      ->check(CLI::Range(1, kMaxInt));
  sub->add_option("--seed", flags->seed, "Seed of --random");
  sub->add_option("--request-size", flags->request_size, "Docs per request (0: all in one)")
      ->check(CLI::Range(0, kMaxInt));
  sub->add_option("--parameters", flags->parameters, "JSON object sent with every request");
  sub->add_flag("--stream,!--no-stream", flags->stream,
                "One JinaRPC/Call stream (default) or unary calls per request");
  sub->add_option("--target-executor", flags->target_executor,
                  "Regex of the Executors that process the requests");
  sub->add_option("--prefetch", flags->prefetch, "Max requests in flight (0: server default)")
      ->check(CLI::Range(0, kMaxInt));
  sub->add_flag("--results-in-order", flags->results_in_order, "Return results in request order");
  sub->add_option("--timeout", flags->timeout_ms, "Milliseconds per request (0: none)")
      ->check(CLI::Range(0, kMaxInt));
  sub->add_option("--max-attempts", flags->max_attempts,
                  "Attempts per request on UNAVAILABLE (unary only)")
      ->check(CLI::Range(1, kMaxInt));
  sub->add_flag("--continue-on-error", flags->continue_on_error,
                "Report Executor errors and keep going");
  sub->add_option("--output", flags->output, "Write the returned docs here as JSON Lines");
  sub->add_flag("--stream-doc", flags->stream_doc,
                "Call the streaming endpoint --on with the first input doc (jina stream_doc) and "
                "print each doc as a JSON line as it arrives");
  return {sub, [flags] { return RunPost(*flags); }};
}

}  // namespace shoal::cli
