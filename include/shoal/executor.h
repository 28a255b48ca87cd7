// The Executor API: a class with named endpoints that process a batch of documents. Shoal serves
// one instance per replica process and calls its endpoints one at a time.
//
//   class Indexer : public shoal::Executor {
//    public:
//     explicit Indexer(const shoal::Config& with);
//     static void Register(shoal::Endpoints<Indexer>& e) {
//       e.On("/index", &Indexer::Index).Write();
//       e.On("/search", &Indexer::Search);
//     }
//     shoal::Status Index(shoal::DocList& docs, const shoal::Params& params);
//     shoal::Status Search(shoal::DocList& docs, const shoal::Params& params);
//   };
//   SHOAL_EXECUTOR(Indexer);
//
// A streaming endpoint takes one document and sends documents back one at a time, each as soon
// as it is written (Jina's generator endpoints, served over stream_doc and server-sent events):
//
//     e.OnStream("/generate", &Llm::Generate);
//     shoal::Status Generate(const shoal::Doc& prompt, const shoal::Params& params,
//                            shoal::DocWriter& out);   // out.Write(doc) per token
#ifndef SHOAL_EXECUTOR_H_
#define SHOAL_EXECUTOR_H_

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "shoal/doc.h"
#include "shoal/params.h"
#include "shoal/status.h"

namespace shoal {

// Catches every endpoint that has no handler of its own.
inline constexpr std::string_view kDefaultEndpoint = "/default";

namespace internal {
class RuntimeAccess;
struct RequestState;
}  // namespace internal

// Base class of every Executor. Owned by the replica runtime; its endpoints run one at a time.
class Executor {
 public:
  virtual ~Executor() = default;

  // Writes the whole state to `file` / rebuilds it from `file`; used by stateful Deployments for
  // Raft snapshots. The defaults answer Unimplemented.
  virtual Status Snapshot(const std::filesystem::path& file) const;
  virtual Status Restore(const std::filesystem::path& file);
  // Called once before the replica exits, after the last request.
  virtual void Close() {}

  // The replica's name, `name/rep-i` or `name/shard-s/rep-i`.
  const std::string& runtime_name() const { return runtime_name_; }
  // A folder this replica may write to (empty when the Deployment has no workspace).
  const std::filesystem::path& workspace() const { return workspace_; }

  // Whether the call being served has lost its caller: the client cancelled or disconnected, or
  // its deadline passed. Cheap; a long-running endpoint polls it and returns early (its answer
  // is read by nobody). False outside an endpoint call and for writes applied from the Raft log,
  // which must run to the end.
  bool request_cancelled() const;

 private:
  friend class internal::RuntimeAccess;
  std::string runtime_name_;
  std::filesystem::path workspace_;
};

// One call of an endpoint, for endpoints that need more than docs and parameters: the parts of a
// multi-part request (a Flow join with no_reduce) and results returned beside the docs.
class Request {
 public:
  explicit Request(internal::RequestState* state) : state_(state) {}

  // All docs of the request (the parts concatenated).
  DocList& docs();
  const Params& params() const;
  std::string_view endpoint() const;
  // Parts as they arrived (one unless the request came from a join with no_reduce), and the
  // executor that produced each one (its last route).
  size_t num_parts() const;
  DocList part(size_t i) const;
  std::string_view part_origin(size_t i) const;
  // Whether this call has lost its caller (see Executor::request_cancelled).
  bool cancelled() const;
  // A value under `parameters['__results__'][<replica name>][key]` of the response.
  void SetResult(std::string_view key, std::string_view value);
  void SetResult(std::string_view key, double value);

 private:
  friend class internal::RuntimeAccess;
  internal::RequestState* state_;
};

// Dynamic batching of one endpoint (Jina's @dynamic_batching, with Triton's extras): requests
// with the same endpoint and parameters wait in a queue, and the Executor is called once with the
// documents of several requests concatenated. It must answer one document per input, in order;
// each caller gets its own documents back. See docs/executors.md, "Dynamic batching".
struct BatchingOptions {
  // Flush when this many documents wait (0: only on the delay below). Without flush_all the
  // Executor gets batches of at most this many documents.
  int preferred_batch_size = 0;
  int64_t timeout_ms = 10'000;  // flush this long after the first request was queued
  bool flush_all = false;       // on a flush, pass the whole queue in one call
  // Triton's max_queue_delay_microseconds; when > 0 it replaces timeout_ms.
  int64_t max_queue_delay_us = 0;
  // Most documents in one call (0: no limit); a larger request is split, not refused.
  int max_batch_size = 0;
  // Most requests of the endpoint waiting to run (queued, or batched and not yet run; 0: no
  // limit); more are refused with RESOURCE_EXHAUSTED (the router tries another replica).
  int max_queue_size = 0;
};

// Where a streaming endpoint sends its documents. Each Write goes to the caller at once; a few
// documents (or a few MiB) wait in a buffer while the caller has not read them, and Write then
// blocks until it does, so a slow reader slows the endpoint down instead of filling memory. A
// caller that reads nothing for 60 s is cut off (its call cancelled; Write returns false).
// Used by the endpoint's thread only, during its call.
class DocWriter {
 public:
  virtual ~DocWriter() = default;
  // Sends a copy of `doc`. False once the caller is gone (it cancelled or disconnected, its
  // deadline passed, the replica is stopping): the endpoint should return then, and what it
  // writes later is dropped.
  virtual bool Write(const Doc& doc) = 0;
  // Whether the caller is gone; for an endpoint that works a while between two writes.
  virtual bool cancelled() const = 0;
};

namespace internal {

using EndpointFn = std::function<Status(Executor&, Request&)>;
// A streaming endpoint: the request holds the one input document.
using StreamFn = std::function<Status(Executor&, Request&, DocWriter&)>;

struct EndpointEntry {
  std::string name;
  bool write = false;
  EndpointFn fn;                            // unset for a streaming endpoint
  std::optional<BatchingOptions> batching;  // set by EndpointOptions::DynamicBatching
  // Set for a streaming (generator) endpoint: it answers stream_doc one document at a time and
  // cannot be a write endpoint nor batch requests.
  StreamFn stream;
  bool is_generator() const { return stream != nullptr; }
};

// Endpoints of one Executor class, in registration order.
struct EndpointTable {
  std::vector<EndpointEntry> entries;
};

using Factory = std::function<StatusOr<std::unique_ptr<Executor>>(const Config&)>;

// Adds a class to the global registry; called by SHOAL_EXECUTOR at static-initialisation time.
void RegisterExecutor(std::string_view class_name, Factory factory, EndpointTable endpoints);

}  // namespace internal

// Options of one registered endpoint; use it right away (`e.On(...).Write()`), since later
// registrations may move the entry.
class EndpointOptions {
 public:
  explicit EndpointOptions(internal::EndpointEntry* entry) : entry_(entry) {}
  // Marks the endpoint as changing state: with `stateful: true` it goes through the Raft log.
  EndpointOptions& Write() {
    entry_->write = true;
    return *this;
  }
  // Batches the endpoint's requests (`e.On("/embed", &E::Embed).DynamicBatching({.
  // preferred_batch_size = 32, .timeout_ms = 50})`). An Executor YAML's `dynamic_batching:` and a
  // Deployment's `uses_dynamic_batching:` replace these options for the endpoints they name.
  EndpointOptions& DynamicBatching(BatchingOptions options) {
    entry_->batching = options;
    return *this;
  }

 private:
  internal::EndpointEntry* entry_;
};

// Registration of endpoint name -> member function, used in `static void Register(...)`.
template <typename E>
class Endpoints {
 public:
  using DocsMethod = Status (E::*)(DocList& docs, const Params& params);
  using RequestMethod = Status (E::*)(Request& request);
  using StreamMethod = Status (E::*)(const Doc& in, const Params& params, DocWriter& out);

  EndpointOptions On(std::string name, DocsMethod method) {
    return Add(std::move(name), [method](Executor& e, Request& r) {
      return (static_cast<E&>(e).*method)(r.docs(), r.params());
    });
  }
  EndpointOptions On(std::string name, RequestMethod method) {
    return Add(std::move(name),
               [method](Executor& e, Request& r) { return (static_cast<E&>(e).*method)(r); });
  }

  // A streaming endpoint: called with the one document of a stream_doc request, it writes the
  // documents to send back to `out`, one at a time. Called through a non-streaming RPC
  // (process_single_data, Call), it runs once per document and the request's answer holds
  // everything written. Cannot be marked Write().
  EndpointOptions OnStream(std::string name, StreamMethod method) {
    internal::EndpointEntry entry;
    entry.name = std::move(name);
    entry.stream = [method](Executor& e, Request& r, DocWriter& out) {
      return (static_cast<E&>(e).*method)(r.docs()[0], r.params(), out);
    };
    table_.entries.push_back(std::move(entry));
    return EndpointOptions(&table_.entries.back());
  }

  internal::EndpointTable Take() { return std::move(table_); }

 private:
  EndpointOptions Add(std::string name, internal::EndpointFn fn) {
    internal::EndpointEntry entry;
    entry.name = std::move(name);
    entry.fn = std::move(fn);
    table_.entries.push_back(std::move(entry));
    return EndpointOptions(&table_.entries.back());
  }
  internal::EndpointTable table_;
};

namespace internal {

// Builds an Executor of class E: `static StatusOr<std::unique_ptr<E>> Create(const Config&)`
// when E has one, else `E(const Config&)`, else `E()`.
template <typename E>
StatusOr<std::unique_ptr<Executor>> Create(const Config& config) {
  if constexpr (requires {
                  { E::Create(config) } -> std::same_as<StatusOr<std::unique_ptr<E>>>;
                }) {
    StatusOr<std::unique_ptr<E>> made = E::Create(config);
    if (!made.ok()) return made.status();
    return std::unique_ptr<Executor>(std::move(made).value());
  } else if constexpr (std::is_constructible_v<E, const Config&>) {
    return std::unique_ptr<Executor>(new E(config));
  } else {
    return std::unique_ptr<Executor>(new E());
  }
}

template <typename E>
struct Registrar {
  explicit Registrar(std::string_view name) {
    Endpoints<E> endpoints;
    E::Register(endpoints);
    RegisterExecutor(name, &Create<E>, endpoints.Take());
  }
};

}  // namespace internal
}  // namespace shoal

// Registers Executor class `Class` under its own name, for `uses: Class` (in the binary or in a
// shared library loaded with `uses: path/libx.so`).
#define SHOAL_EXECUTOR(Class) \
  static const ::shoal::internal::Registrar<Class> shoal_executor_registrar_##Class(#Class)

#endif  // SHOAL_EXECUTOR_H_
