// `shoal_loadgen`: a closed-loop load generator over Jina's gRPC protocol, used by bench/run to
// compare Shoal with raw_echo_server. Keeps N requests in flight over C channels, measures each
// request's latency, and prints one JSON line of throughput and latency percentiles. With
// --unique-ids every request carries its own request id (for stateful, write endpoints).
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "jina.pb.h"

namespace shoal::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUnaryMethod[] = "/jina.JinaSingleDataRequestRPC/process_single_data";
constexpr char kStreamMethod[] = "/jina.JinaRPC/Call";
constexpr double kMaxSeconds = 120;
constexpr double kMaxWarmupSeconds = 60;
// Every request gets a deadline, so that every slot finishes in bounded time.
constexpr auto kCallTimeout = std::chrono::seconds(10);
// One response in this many is parsed whole; see CheckResponse().
constexpr int64_t kFullParseEvery = 100;

struct Options {
  std::string target;
  int concurrency = 1;
  int64_t requests = 0;  // 0: run for `seconds`.
  double seconds = 5;
  double warmup = 1;
  int docs = 1;
  int dim = 0;
  std::string endpoint = "/default";
  std::string method = "unary";
  int channels = 1;
  int window = 1;          // stream: requests in flight per stream.
  std::string parameters;  // JSON object for every request's parameters; empty: none.
  std::string label;       // echoed in the JSON line, for scripts.
  // A distinct header.request_id per request: a stateful replica applies a repeated request id
  // once (its retry protection), so replicated writes need distinct ids to be measured.
  bool unique_ids = false;
};

// The request as bytes. With unique ids, the request id (the last kIdCounterDigits of it are a
// counter) ends the `head` bytes, so that each request is a small fresh head plus the same
// reference-counted tail slice (the documents), without copying the documents.
class RequestSource {
 public:
  static constexpr size_t kIdCounterDigits = 16;

  RequestSource(const std::string& bytes, size_t id_end)
      : unique_(id_end > 0),
        head_(bytes.substr(0, id_end)),
        tail_(bytes.data() + id_end, bytes.size() - id_end) {
    grpc::Slice whole(bytes);
    fixed_ = grpc::ByteBuffer(&whole, 1);
  }

  size_t size() const { return fixed_.Length(); }
  bool unique() const { return unique_; }

  // The next request to send. Thread-safe.
  grpc::ByteBuffer Next() {
    if (!unique_) return fixed_;
    std::string head = head_;
    uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < kIdCounterDigits; ++i, n >>= 4) {
      head[head.size() - 1 - i] = kHex[n & 15];
    }
    grpc::Slice slices[2] = {grpc::Slice(head), tail_};
    return grpc::ByteBuffer(slices, 2);
  }

 private:
  const bool unique_;
  const std::string head_;
  const grpc::Slice tail_;
  grpc::ByteBuffer fixed_;
  std::atomic<uint64_t> counter_{0};
};

// Builds the request once: `docs` documents shaped like docarray's TextDoc with an optional
// `embedding` NdArray, exactly as the Python peers encode them.
// With unique ids, `id_end` is set to the end of the request id in `out` (its last
// RequestSource::kIdCounterDigits characters are the counter); else to 0.
// Returns false, printing why, when --parameters is not a JSON object.
bool BuildRequest(const Options& options, std::string* out, size_t* id_end) {
  static_assert(std::endian::native == std::endian::little, "dtype <f4 needs a little-endian host");
  jina::DataRequestProto request;
  std::string id = "shoal-loadgen";
  if (options.unique_ids) {
    // A random prefix per run, so that runs against the same Deployment never share an id.
    std::random_device random;
    char prefix[17];
    std::snprintf(prefix, sizeof(prefix), "%08x%08x", random(), random());
    id = std::string(prefix) + std::string(RequestSource::kIdCounterDigits, '0');
  }
  request.mutable_header()->set_request_id(id);
  request.mutable_header()->set_exec_endpoint(options.endpoint);
  if (!options.parameters.empty()) {
    const auto status = google::protobuf::util::JsonStringToMessage(options.parameters,
                                                                    request.mutable_parameters());
    if (!status.ok()) {
      std::fprintf(stderr, "shoal_loadgen: --parameters is not a JSON object: %s\n",
                   std::string(status.message()).c_str());
      return false;
    }
  }
  docarray::DocListProto* docs = request.mutable_data()->mutable_docs();
  std::vector<float> embedding(options.dim);
  for (int d = 0; d < options.docs; ++d) {
    auto* fields = docs->add_docs()->mutable_data();
    char id[33];
    std::snprintf(id, sizeof(id), "%032x", d + 1);
    (*fields)["id"].set_text(id);
    (*fields)["id"].set_type("id");
    (*fields)["text"].set_text("hello from shoal_loadgen, document " + std::to_string(d));
    (*fields)["text"].set_type("str");
    if (options.dim > 0) {
      for (int k = 0; k < options.dim; ++k) embedding[k] = static_cast<float>((d + k) % 97) / 97;
      docarray::NodeProto& node = (*fields)["embedding"];
      node.set_type("ndarray");
      docarray::DenseNdArrayProto* dense = node.mutable_ndarray()->mutable_dense();
      dense->set_dtype("<f4");
      dense->add_shape(options.dim);
      dense->set_buffer(embedding.data(), embedding.size() * sizeof(float));
    }
  }
  *out = request.SerializeAsString();
  *id_end = 0;
  if (options.unique_ids) {
    const size_t at = out->find(id);
    if (at == std::string::npos || out->find(id, at + 1) != std::string::npos) {
      std::fprintf(stderr, "shoal_loadgen: cannot place the request id\n");
      return false;
    }
    *id_end = at + id.size();
  }
  return true;
}

// Returns true when `response` is a successful DataRequestProto. Every response has its header
// read by a wire-level scan that skips the documents without copying them; when `full` is set the
// response is also parsed whole and its document count compared with the request's. Parsing a
// 100-doc response costs ~30-70 us, which on a shared 2-core machine would take CPU from the
// server under test, hence the full parse only for one response in kFullParseEvery.
bool CheckResponse(grpc::ByteBuffer* response, bool full, int expected_docs) {
  using google::protobuf::internal::WireFormatLite;
  {
    grpc::ProtoBufferReader reader(response);
    google::protobuf::io::CodedInputStream in(&reader);
    in.SetTotalBytesLimit(INT32_MAX);
    jina::HeaderProto header;
    bool has_header = false;
    // Bounded: each iteration consumes at least one byte of a finite buffer.
    while (uint32_t tag = in.ReadTag()) {
      if (tag == WireFormatLite::MakeTag(jina::DataRequestProto::kHeaderFieldNumber,
                                         WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
        uint32_t length = 0;
        if (!in.ReadVarint32(&length)) return false;
        auto limit = in.PushLimit(static_cast<int>(length));
        if (!header.MergeFromCodedStream(&in) || !in.ConsumedEntireMessage()) return false;
        in.PopLimit(limit);
        has_header = true;
      } else if (!WireFormatLite::SkipField(&in, tag)) {
        return false;
      }
    }
    if (!in.ConsumedEntireMessage() || !has_header ||
        header.status().code() != jina::StatusProto::SUCCESS) {
      return false;
    }
  }
  if (!full) return true;
  grpc::ProtoBufferReader reader(response);
  jina::DataRequestProto parsed;
  if (!parsed.ParseFromZeroCopyStream(&reader)) return false;
  return parsed.data().docs().docs_size() == expected_docs;
}

// Decides, for each request a slot is about to send, whether it is sent and whether it counts.
// Thread-safe; immutable except for the ticket counter.
class Schedule {
 public:
  enum class Decision { kStop, kWarmup, kMeasured };

  Schedule(Clock::time_point start, const Options& options, double time_cap_seconds)
      : warmup_end_(start + ToDuration(options.warmup)),
        stop_(warmup_end_ + ToDuration(time_cap_seconds)),
        request_limit_(options.requests) {}

  Decision Next(Clock::time_point now) {
    if (now >= stop_) return Decision::kStop;
    if (now < warmup_end_) return Decision::kWarmup;
    if (request_limit_ > 0 && tickets_.fetch_add(1, std::memory_order_relaxed) >= request_limit_) {
      return Decision::kStop;
    }
    return Decision::kMeasured;
  }

  Clock::time_point warmup_end() const { return warmup_end_; }
  Clock::time_point stop() const { return stop_; }
  // Whether a request that finished at `t` finished inside the measured window.
  bool InWindow(Clock::time_point t) const { return t >= warmup_end_ && t < stop_; }

 private:
  static Clock::duration ToDuration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  const Clock::time_point warmup_end_;
  const Clock::time_point stop_;
  const int64_t request_limit_;
  std::atomic<int64_t> tickets_{0};
};

// Counts the slots still running; main waits on it. Thread-safe.
class Tracker {
 public:
  explicit Tracker(int slots) : running_(slots) {}

  void Done() {
    absl::MutexLock lock(&mu_);
    --running_;
  }

  bool WaitAll(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* running) { return *running == 0; }, &running_),
                                timeout);
  }

 private:
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_);
};

// What one slot saw. Written by that slot's callbacks only, one at a time; read by main after
// the slot is done.
struct SlotStats {
  std::vector<int64_t> latencies_ns;
  int64_t errors = 0;
  int64_t responses = 0;
  int64_t window_done = 0;  // successes that finished inside the measured window
  Clock::time_point last_measured_done;
};

// Shared by every slot; outlives them all.
struct Shared {
  Schedule* schedule;
  Tracker* tracker;
  int expected_docs;
  RequestSource* requests;
};

// One request in flight, forever re-sent until the schedule says stop.
class Slot {
 public:
  explicit Slot(Shared shared) : shared_(shared) {}
  virtual ~Slot() = default;
  virtual void Start() = 0;
  const SlotStats& stats() const { return stats_; }

 protected:
  // Checks and records a finished request.
  void Record(bool rpc_ok, grpc::ByteBuffer* response, Clock::time_point done) {
    const bool full = stats_.responses++ % kFullParseEvery == 0;
    if (!rpc_ok || !CheckResponse(response, full, shared_.expected_docs)) {
      ++stats_.errors;
      return;
    }
    if (shared_.schedule->InWindow(done)) ++stats_.window_done;
    if (measured_) {
      stats_.latencies_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(done - started_).count());
      stats_.last_measured_done = done;
    }
  }

  // Asks the schedule about the next request; false means stop.
  bool Begin() {
    const Clock::time_point now = Clock::now();
    const Schedule::Decision decision = shared_.schedule->Next(now);
    if (decision == Schedule::Decision::kStop) return false;
    measured_ = decision == Schedule::Decision::kMeasured;
    started_ = now;
    return true;
  }

  const Shared shared_;
  SlotStats stats_;
  Clock::time_point started_;
  bool measured_ = false;
};

// Unary process_single_data calls, one after the other.
class UnarySlot final : public Slot {
 public:
  UnarySlot(Shared shared, grpc::GenericStub* stub)
      : Slot(shared), stub_(stub), request_(shared.requests->Next()) {}

  void Start() override { Kick(); }

 private:
  // Issues the next call. A completion that runs inline, inside UnaryCall, only bumps `pending_`
  // and the frame already looping issues the call for it, so the stack never grows.
  void Kick() {
    if (pending_.fetch_add(1, std::memory_order_acq_rel) != 0) return;
    bool stopped = false;
    do {
      if (!stopped) stopped = !Issue();
    } while (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1);
    if (stopped) shared_.tracker->Done();  // Last touch of this slot.
  }

  bool Issue() {
    if (!Begin()) return false;
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    response_.Clear();
    if (shared_.requests->unique()) request_ = shared_.requests->Next();
    stub_->UnaryCall(context_.get(), kUnaryMethod, grpc::StubOptions(), &request_, &response_,
                     [this](grpc::Status status) {
                       Record(status.ok(), &response_, Clock::now());
                       Kick();
                     });
    return true;
  }

  grpc::GenericStub* const stub_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::atomic<int> pending_{0};
};

// One jina.JinaRPC/Call stream carrying up to `window` requests at a time: a new request is
// written whenever the previous write has completed and fewer than `window` answers are
// outstanding (window 1: the next request follows the previous answer). Answers are matched to
// requests in order, so a latency is the time from a request's write to the next answer.
// Half-closes when the schedule says stop and every answer has arrived.
class StreamSlot final : public Slot,
                         public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamSlot(Shared shared, grpc::GenericStub* stub,
             std::chrono::system_clock::duration stream_deadline, int window)
      : Slot(shared),
        stub_(stub),
        request_(shared.requests->Next()),
        stream_deadline_(stream_deadline),
        window_(window) {}

  void Start() override {
    if (!Begin()) {
      shared_.tracker->Done();
      return;
    }
    context_.set_deadline(std::chrono::system_clock::now() + stream_deadline_);
    stub_->PrepareBidiStreamingCall(&context_, kStreamMethod, grpc::StubOptions(), this);
    {
      absl::MutexLock lock(&mu_);
      sent_.push_back({started_, measured_});
      writing_ = true;
    }
    StartRead(&response_);
    StartWrite(&request_);
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) failed_ = true;
    }
    Pump();
  }

  void OnReadDone(bool ok) override {
    bool read_again = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok || sent_.empty()) {
        // The stream ended: a failure if answers were still due (counted here, once each).
        if (!sent_.empty()) failed_ = true;
        for (size_t i = 0; i < sent_.size(); ++i) ++stats_.errors;
        sent_.clear();
        read_done_ = true;
      } else {
        started_ = sent_.front().first;
        measured_ = sent_.front().second;
        sent_.pop_front();
        Record(true, &response_, Clock::now());
        response_.Clear();
        read_again = true;
      }
    }
    if (read_again) StartRead(&response_);
    Pump();
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      // Answers that were due when the stream failed were counted in OnReadDone.
      if (!status.ok() && !failed_) ++stats_.errors;
    }
    shared_.tracker->Done();  // Last touch of this slot.
  }

 private:
  // Writes the next request, or half-closes, when that is due. gRPC calls are made outside the
  // lock; `writing_` keeps writes one at a time.
  void Pump() {
    enum { kNothing, kWrite, kWritesDone } action = kNothing;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || writes_done_ || read_done_) return;
      if (failed_) {
        writes_done_ = true;
        action = kWritesDone;
      } else if (!stopping_ && static_cast<int>(sent_.size()) < window_) {
        if (Begin()) {
          sent_.push_back({started_, measured_});
          writing_ = true;
          action = kWrite;
        } else {
          stopping_ = true;
        }
      }
      if (action == kNothing && stopping_ && sent_.empty()) {
        writes_done_ = true;
        action = kWritesDone;
      }
    }
    if (action == kWrite) {
      // The previous write has completed, so its buffer may be replaced.
      if (shared_.requests->unique()) request_ = shared_.requests->Next();
      StartWrite(&request_);
    }
    if (action == kWritesDone) StartWritesDone();
  }

  grpc::GenericStub* const stub_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  const std::chrono::system_clock::duration stream_deadline_;
  const int window_;
  grpc::ClientContext context_;
  absl::Mutex mu_;
  // Send time and whether it counts, of each request written and not yet answered, in order.
  std::deque<std::pair<Clock::time_point, bool>> sent_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
};

std::string JsonEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out;
}

// Nearest-rank percentile of sorted values, in microseconds.
double PercentileUs(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

// One gRPC channel (its own TCP connection) per --channels, each connected within 10 s.
bool Connect(const Options& options, std::vector<std::unique_ptr<grpc::GenericStub>>* stubs) {
  for (int c = 0; c < options.channels; ++c) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    // Distinct arguments and a local pool keep channels from sharing a connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("shoal.loadgen.channel", c);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "shoal_loadgen: cannot connect to %s\n", options.target.c_str());
      return false;
    }
    stubs->push_back(std::make_unique<grpc::GenericStub>(std::move(channel)));
  }
  return true;
}

// Merges what the slots saw and prints the JSON line. `requests` counts the measured requests
// that succeeded; `errors` counts failed or wrong responses, warmup included; `responses_total`
// counts every completed request, warmup and failures included. Latencies are those of the
// requests sent after warmup. Requests per second: in time mode, the successes that finished
// inside the measured window over its length (requests sent during warmup but finished after it
// count, so slow requests do not bias the figure down by latency/seconds); with --requests, the
// measured requests over the time from the warmup's end to the last of them.
int64_t Report(const Options& options, size_t request_bytes, const Schedule& schedule,
               const std::vector<std::unique_ptr<Slot>>& slots) {
  const Clock::time_point warmup_end = schedule.warmup_end();
  std::vector<int64_t> latencies;
  int64_t errors = 0;
  int64_t responses = 0;  // warmup included: for CPU per request measured from outside.
  int64_t window_done = 0;
  Clock::time_point last_done = warmup_end;
  for (const auto& slot : slots) {
    const SlotStats& stats = slot->stats();
    responses += stats.responses;
    window_done += stats.window_done;
    latencies.insert(latencies.end(), stats.latencies_ns.begin(), stats.latencies_ns.end());
    errors += stats.errors;
    if (!stats.latencies_ns.empty()) last_done = std::max(last_done, stats.last_measured_done);
  }
  std::sort(latencies.begin(), latencies.end());
  const bool count_mode = options.requests > 0;
  const double seconds =
      std::chrono::duration<double>((count_mode ? last_done : schedule.stop()) - warmup_end)
          .count();
  const double completed =
      static_cast<double>(count_mode ? static_cast<int64_t>(latencies.size()) : window_done);
  const double rps = seconds > 0 ? completed / seconds : 0;
  std::printf(
      "{\"label\":\"%s\",\"target\":\"%s\",\"method\":\"%s\",\"concurrency\":%d,"
      "\"channels\":%d,\"window\":%d,\"endpoint\":\"%s\",\"unique_ids\":%s,\"docs\":%d,"
      "\"dim\":%d,\"request_bytes\":%zu,"
      "\"requests\":%zu,"
      "\"seconds\":%.3f,\"rps\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
      "\"errors\":%lld,\"responses_total\":%lld}\n",
      JsonEscape(options.label).c_str(), JsonEscape(options.target).c_str(), options.method.c_str(),
      options.concurrency, options.channels, options.window, JsonEscape(options.endpoint).c_str(),
      options.unique_ids ? "true" : "false", options.docs, options.dim, request_bytes,
      latencies.size(), seconds, rps, PercentileUs(latencies, 0.50), PercentileUs(latencies, 0.90),
      PercentileUs(latencies, 0.99), static_cast<long long>(errors),
      static_cast<long long>(responses));
  std::fflush(stdout);
  return errors;
}

// Runs the load and prints the JSON line. Returns 0 without errors, 1 with errors, 2 when the
// target cannot be reached, 3 when --parameters is not a JSON object.
int Run(const Options& options, double time_cap_seconds) {
  std::string request_bytes;
  size_t id_end = 0;
  if (!BuildRequest(options, &request_bytes, &id_end)) return 3;
  RequestSource requests(request_bytes, id_end);
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  if (!Connect(options, &stubs)) return 2;

  Schedule schedule(Clock::now(), options, time_cap_seconds);
  Tracker tracker(options.concurrency);
  const Shared shared{&schedule, &tracker, options.docs, &requests};
  const auto stream_deadline = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double>(options.warmup + time_cap_seconds) + kCallTimeout);
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < options.concurrency; ++i) {
    grpc::GenericStub* stub = stubs[i % options.channels].get();
    if (options.method == "stream") {
      slots.push_back(std::make_unique<StreamSlot>(shared, stub, stream_deadline, options.window));
    } else {
      slots.push_back(std::make_unique<UnarySlot>(shared, stub));
    }
  }
  for (auto& slot : slots) slot->Start();
  const absl::Duration wait_limit =
      absl::Seconds(options.warmup + time_cap_seconds) + absl::FromChrono(kCallTimeout * 2);
  if (!tracker.WaitAll(wait_limit)) {
    std::fprintf(stderr, "shoal_loadgen: requests still in flight after the deadline\n");
    std::fflush(nullptr);
    std::_Exit(2);  // gRPC still references the slots, so they cannot be destroyed.
  }
  return Report(options, requests.size(), schedule, slots) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  using shoal::bench::kMaxSeconds;
  using shoal::bench::kMaxWarmupSeconds;
  CLI::App app{
      "Closed-loop load generator over Jina's gRPC protocol. Prints one JSON line; "
      "exits 0 without errors, 1 with errors, 2 when the target is unreachable, 3 on bad "
      "--parameters.",
      "shoal_loadgen"};
  shoal::bench::Options options;
  app.add_option("--target", options.target, "host:port of the server")->required();
  app.add_option("--concurrency", options.concurrency, "Requests in flight")
      ->check(CLI::Range(1, 10000));
  app.add_option("--requests", options.requests,
                 "Measured requests to send after warmup (0: run for --seconds)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  app.add_option("--seconds", options.seconds,
                 "Measured seconds after warmup; with --requests, a time cap")
      ->check(CLI::Range(0.001, kMaxSeconds));
  app.add_option("--warmup", options.warmup, "Seconds of unmeasured load first")
      ->check(CLI::Range(0.0, kMaxWarmupSeconds));
  app.add_option("--docs", options.docs, "Documents per request")->check(CLI::Range(1, 100000));
  app.add_option("--dim", options.dim, "Embedding dimension per document (0: text only)")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--endpoint", options.endpoint, "header.exec_endpoint of each request");
  app.add_option("--method", options.method, "unary: process_single_data; stream: Call")
      ->check(CLI::IsMember({"unary", "stream"}));
  app.add_option("--window", options.window,
                 "stream: requests in flight on each stream, written without waiting for "
                 "answers (1: one at a time)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--channels", options.channels, "gRPC channels (connections); slots share them")
      ->check(CLI::Range(1, 1024));
  app.add_option("--parameters", options.parameters,
                 "JSON object put into every request's parameters, e.g. '{\"ms\": 20}'");
  app.add_flag("--unique-ids", options.unique_ids,
               "A distinct header.request_id per request (stateful replicas apply a repeated "
               "request id once)");
  app.add_option("--label", options.label, "Free text copied into the JSON line's \"label\"");
  CLI11_PARSE(app, argc, argv);
  options.channels = std::min(options.channels, options.concurrency);
  const bool count_mode = options.requests > 0;
  const double time_cap = count_mode && app.count("--seconds") == 0 ? kMaxSeconds : options.seconds;
  return shoal::bench::Run(options, time_cap);
}
