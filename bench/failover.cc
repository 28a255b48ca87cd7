// `shoal_failover`: how long a stateful Deployment takes to acknowledge a write again after its
// Raft leader is killed. Starts a Deployment of ExactNNIndexer (replicas=3, stateful) through the
// public C++ API, keeps one writer sending 1-doc /index requests back to back through it, and
// for each of --rounds rounds finds the leader (the replica that accepts an empty /index sent to
// it alone), kills it with SIGKILL and measures, from the kill:
//   ack_ms        to the first write *sent after the kill* that the Deployment acknowledged (the
//                 next acknowledged write; at most one write's latency more than the first
//                 acknowledgement of any write, and immune to an answer already on its way when
//                 the leader died);
//   any_ack_ms    to the first acknowledgement of any write (the one in flight at the kill
//                 included, which the Deployment's router retried);
//   direct_ms     to the first 1-doc /index that a replica, asked directly (each every ~5 ms, no
//                 router), accepted: the Raft election alone, without the router's pauses
//                 between rounds of retries.
// Prints one JSON line per round. Waits for the killed replica to be restarted and to answer
// before the next round. Every wait is bounded; stops only what it started (the Deployment).
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "jina.grpc.pb.h"
#include "shoal/client.h"
#include "shoal/deployment.h"
#include "shoal/doc.h"

namespace shoal::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double MsSince(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string JsonEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out;
}

std::vector<float> RandomVector(std::mt19937_64& random, int dim) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  for (float& x : v) x = normal(random);
  return v;
}

// A stub for one replica whose channel reconnects within ~20-100 ms after the replica restarts
// (gRPC's default backoff starts at 1 s).
std::unique_ptr<jina::JinaSingleDataRequestRPC::Stub> ReplicaStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return jina::JinaSingleDataRequestRPC::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

// One unary process_single_data call straight to a replica. True when it answered OK.
// With `dim` > 0 it carries one doc with a `dim`-d embedding; else no doc.
bool SendDirect(jina::JinaSingleDataRequestRPC::Stub& stub, const std::string& request_id, int dim,
                std::mt19937_64& random, milliseconds deadline) {
  jina::DataRequestProto request, response;
  request.mutable_header()->set_request_id(request_id);
  request.mutable_header()->set_exec_endpoint("/index");
  if (dim > 0) {
    // One doc with an id and a "<f4" embedding, as docarray encodes it.
    auto* fields = request.mutable_data()->mutable_docs()->add_docs()->mutable_data();
    (*fields)["id"].set_text(request_id);
    (*fields)["id"].set_type("id");
    std::vector<float> v = RandomVector(random, dim);
    docarray::NodeProto& node = (*fields)["embedding"];
    node.set_type("ndarray");
    docarray::DenseNdArrayProto* dense = node.mutable_ndarray()->mutable_dense();
    dense->set_dtype("<f4");
    dense->add_shape(dim);
    dense->set_buffer(v.data(), v.size() * sizeof(float));
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  return stub.process_single_data(&context, request, &response).ok() &&
         response.header().status().code() == jina::StatusProto::SUCCESS;
}

// The replica that accepts an empty write sent to it alone (followers refuse writes); -1 when
// none does within ~100 rounds.
int FindLeader(const Deployment& dep, int round, std::mt19937_64& random) {
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (int sweep = 0; sweep < 100; ++sweep) {
    for (int r = 0; r < static_cast<int>(addresses.size()); ++r) {
      const std::string id = "failover-probe-" + std::to_string(round) + "-" +
                             std::to_string(sweep) + "-" + std::to_string(r);
      if (SendDirect(*ReplicaStub(addresses[r]), id, 0, random, milliseconds(2000))) return r;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return -1;
}

// Sends 1-doc /index requests through the Deployment, one after the other, and remembers when
// each acknowledged one was sent and answered.
class Writer {
 public:
  Writer(Deployment& dep, int dim, uint64_t seed) : dep_(dep), dim_(dim), random_(seed) {}
  ~Writer() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acks_.size();
  }
  int failed() const { return failed_; }
  // Waits (bounded by `limit`) until `n` more writes than `from` were acknowledged.
  bool WaitForAcks(size_t from, size_t n, milliseconds limit) {
    const Clock::time_point end = Clock::now() + limit;
    while (acked() < from + n) {
      if (Clock::now() >= end) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }
  // The first acknowledgement after `t`: of a write sent at or after it (`sent_after`), or of
  // any write.
  std::optional<Clock::time_point> FirstAckAfter(Clock::time_point t, bool sent_after) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [sent, answered] : acks_) {
      if (answered > t && (!sent_after || sent >= t)) return answered;
    }
    return std::nullopt;
  }

 private:
  void Run() {
    // Bounded: at most 1,000,000 writes.
    for (int k = 0; k < 1000000 && !stop_; ++k) {
      DocList docs;
      Doc doc = docs.Add();
      doc.set_id("w-" + std::to_string(k));
      std::vector<float> v = RandomVector(random_, dim_);
      doc.set_embedding(v);
      const Clock::time_point sent = Clock::now();
      auto written = dep_.Post("/index", docs, {.stream = false, .timeout = milliseconds(30000)});
      const Clock::time_point answered = Clock::now();
      if (written.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        acks_.emplace_back(sent, answered);
      } else {
        ++failed_;
      }
    }
  }

  Deployment& dep_;
  const int dim_;
  std::mt19937_64 random_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  mutable std::mutex mu_;
  std::vector<std::pair<Clock::time_point, Clock::time_point>> acks_;  // (sent, answered)
  std::thread thread_;
};

// Waits (bounded) until replica `r` runs as a process other than `old_pid` and every replica
// answers a health check.
bool RestartedAndServing(const Deployment& dep, int r, int old_pid, milliseconds limit) {
  const Clock::time_point end = Clock::now() + limit;
  while (Clock::now() < end) {
    const int pid = dep.replica_pid(0, r);
    if (pid > 0 && pid != old_pid) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  const int pid = dep.replica_pid(0, r);
  if (pid <= 0 || pid == old_pid) return false;
  const std::vector<std::string> addresses = dep.replica_addresses()[0];
  for (const std::string& address : addresses) {
    bool serving = false;
    while (!serving && Clock::now() < end) {
      auto client = Client::Connect(address, {.connect_timeout = milliseconds(1000)});
      serving = client.ok() && client->Ping(milliseconds(1000)).ok();
      if (!serving) std::this_thread::sleep_for(milliseconds(50));
    }
    if (!serving) return false;
  }
  return true;
}

struct Options {
  std::string shoal_binary;
  std::string workspace;
  std::string raft_configuration;
  std::string label = "failover";
  int rounds = 5;
  int dim = 128;
  uint64_t seed = 1;
};

int Run(const Options& o) {
  std::mt19937_64 random(o.seed);
  DeploymentOptions options;
  options.name = "failover";
  options.uses = "ExactNNIndexer";
  options.uses_with = R"({"metric": "l2"})";
  options.replicas = 3;
  options.stateful = true;
  options.workspace = o.workspace;
  options.raft_configuration = o.raft_configuration;
  options.retries = 30;            // rounds over the replicas, with pauses, during an election
  options.timeout_send_ms = 2000;  // as the fault tests
  options.timeout_ready_ms = 120000;
  options.shoal_binary = o.shoal_binary;
  Deployment dep(options);
  if (Status started = dep.Start(); !started.ok()) {
    std::fprintf(stderr, "shoal_failover: the Deployment did not start: %s\n",
                 started.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "shoal_failover: %s: Deployment ready on port %d\n", o.label.c_str(),
               dep.port());
  Writer writer(dep, o.dim, random());
  writer.Start();
  int completed = 0;
  for (int round = 0; round < o.rounds; ++round) {
    if (!writer.WaitForAcks(writer.acked(), 20, milliseconds(60000))) {
      std::fprintf(stderr, "shoal_failover: round %d: no writes acknowledged before the kill\n",
                   round);
      break;
    }
    const int leader = FindLeader(dep, round, random);
    if (leader < 0) {
      std::fprintf(stderr, "shoal_failover: round %d: no leader found\n", round);
      break;
    }
    const int pid = dep.replica_pid(0, leader);
    const std::vector<std::string> addresses = dep.replica_addresses()[0];
    std::vector<std::unique_ptr<jina::JinaSingleDataRequestRPC::Stub>> stubs;
    for (const std::string& address : addresses) stubs.push_back(ReplicaStub(address));
    const int failed_before = writer.failed();
    const Clock::time_point killed = Clock::now();
    if (pid <= 0 || kill(pid, SIGKILL) != 0) {
      std::fprintf(stderr, "shoal_failover: round %d: cannot kill replica %d (pid %d)\n", round,
                   leader, pid);
      break;
    }
    // Every replica (the killed one too: restarted within ~100 ms with its Raft log, it may win
    // the election) asked directly, every ~5 ms, until one accepts a write (bounded: 60 s).
    std::optional<double> direct_ms;
    int probes = 0;
    while (!direct_ms.has_value() && MsSince(killed, Clock::now()) < 60000) {
      for (int r = 0; r < static_cast<int>(stubs.size()) && !direct_ms.has_value(); ++r) {
        const std::string id =
            "failover-direct-" + std::to_string(round) + "-" + std::to_string(probes++);
        if (SendDirect(*stubs[r], id, o.dim, random, milliseconds(1000))) {
          direct_ms = MsSince(killed, Clock::now());
        }
      }
      if (!direct_ms.has_value()) std::this_thread::sleep_for(milliseconds(5));
    }
    // The writer's next acknowledged write (bounded: 60 s).
    std::optional<Clock::time_point> ack, any_ack;
    const Clock::time_point end = killed + milliseconds(60000);
    while (!(ack = writer.FirstAckAfter(killed, true)).has_value() && Clock::now() < end) {
      std::this_thread::sleep_for(milliseconds(2));
    }
    any_ack = writer.FirstAckAfter(killed, false);
    const int failed = writer.failed() - failed_before;
    auto ms = [&](const std::optional<Clock::time_point>& t) {
      return t.has_value() ? std::to_string(MsSince(killed, *t)) : std::string("null");
    };
    std::printf(
        "{\"label\":\"%s\",\"round\":%d,\"leader\":%d,\"ack_ms\":%s,\"any_ack_ms\":%s,"
        "\"direct_ms\":%s,\"direct_probes\":%d,\"failed_writes\":%d}\n",
        JsonEscape(o.label).c_str(), round, leader, ms(ack).c_str(), ms(any_ack).c_str(),
        direct_ms.has_value() ? std::to_string(*direct_ms).c_str() : "null", probes, failed);
    std::fflush(stdout);
    if (!ack.has_value()) {
      std::fprintf(stderr, "shoal_failover: round %d: no write acknowledged within 60 s\n", round);
      break;
    }
    ++completed;
    if (!RestartedAndServing(dep, leader, pid, milliseconds(60000))) {
      std::fprintf(stderr, "shoal_failover: round %d: replica %d was not restarted\n", round,
                   leader);
      break;
    }
  }
  writer.Stop();
  std::fprintf(stderr, "shoal_failover: %s: %d of %d rounds, %zu writes acknowledged, %d failed\n",
               o.label.c_str(), completed, o.rounds, writer.acked(), writer.failed());
  dep.Stop();
  return completed == o.rounds ? 0 : 1;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  CLI::App app{
      "Kills the Raft leader of a 3-replica stateful ExactNNIndexer Deployment under a 1-doc "
      "write load, --rounds times, and prints, per round, the milliseconds from the kill to the "
      "next acknowledged write. Exits 0 when every round completed.",
      "shoal_failover"};
  shoal::bench::Options options;
  app.add_option("--shoal", options.shoal_binary, "The shoal executable replicas run")->required();
  app.add_option("--workspace", options.workspace, "The Deployment's workspace (a fresh folder)")
      ->required();
  app.add_option("--raft-configuration", options.raft_configuration,
                 "raft_configuration as a JSON object")
      ->required();
  app.add_option("--rounds", options.rounds, "Leader kills")->check(CLI::Range(1, 50));
  app.add_option("--dim", options.dim, "Embedding dimension of each written doc")
      ->check(CLI::Range(1, 4096));
  app.add_option("--seed", options.seed, "Seed of the embeddings");
  app.add_option("--label", options.label, "Free text copied into each JSON line's \"label\"");
  CLI11_PARSE(app, argc, argv);
  return shoal::bench::Run(options);
}
