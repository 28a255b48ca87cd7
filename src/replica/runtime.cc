// ReplicaRuntime: endpoint lookup, per-executor parameters, the Executor call, and Jina's error
// answer (ERROR status with exception info) when the Executor fails.
#include "src/replica/runtime.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "src/common/ids.h"
#include "src/common/log.h"
#include "src/common/strings.h"
#include "src/doc/doc_ids.h"
#include "src/executor/exception.h"
#include "src/executor/request_state.h"

namespace shoal::replica {
namespace {

// Jina reports exceptions by class name; a Status becomes e.g. "InvalidArgumentError".
std::string ErrorName(absl::StatusCode code) {
  std::string upper = absl::StatusCodeToString(code);
  std::string name;
  bool start = true;
  for (char c : upper) {
    if (c == '_') {
      start = true;
      continue;
    }
    name += start ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    start = false;
  }
  return name + "Error";
}

void SetError(jina::DataRequestProto& response, std::string_view name, std::string_view message,
              std::string_view executor) {
  jina::StatusProto* status = response.mutable_header()->mutable_status();
  status->set_code(jina::StatusProto::ERROR);
  status->set_description(absl::StrCat(AsAbsl(name), "('", AsAbsl(message), "')"));
  jina::StatusProto::ExceptionProto* exception = status->mutable_exception();
  exception->set_name(std::string(name));
  exception->clear_args();
  exception->add_args(std::string(message));
  exception->set_executor(std::string(executor));
}

// An exception an Executor raised (Python), as Jina's workers report it.
void SetException(jina::DataRequestProto& response, const executor::ExceptionInfo& info,
                  std::string_view executor) {
  jina::StatusProto* status = response.mutable_header()->mutable_status();
  status->set_code(jina::StatusProto::ERROR);
  status->set_description(info.description);
  jina::StatusProto::ExceptionProto* exception = status->mutable_exception();
  exception->set_name(info.name);
  exception->clear_args();
  for (const std::string& arg : info.args) exception->add_args(arg);
  exception->clear_stacks();
  for (const std::string& line : info.stacks) exception->add_stacks(line);
  exception->set_executor(std::string(executor));
}

// Jina accepts docs either as a DocListProto (f1) or its serialized bytes (f2); Executors always
// see the former.
Status DecodeDocs(jina::DataRequestProto& request) {
  auto* data = request.mutable_data();
  if (data->documents_case() != jina::DataRequestProto::DataContentProto::kDocsBytes) {
    return absl::OkStatus();
  }
  std::string bytes = std::move(*data->mutable_docs_bytes());
  if (!data->mutable_docs()->ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request ", request.header().request_id(),
        ": data.docs_bytes is not a serialized docarray.DocListProto (", bytes.size(), " bytes)"));
  }
  return absl::OkStatus();
}

// A JSON schema property: {"title": title, "type": type}, or an array of `items`.
google::protobuf::Value Property(const char* title, const char* type, const char* items = nullptr) {
  google::protobuf::Value value;
  auto& fields = *value.mutable_struct_value()->mutable_fields();
  fields["title"].set_string_value(title);
  fields["type"].set_string_value(type);
  if (items != nullptr) {
    (*fields["items"].mutable_struct_value()->mutable_fields())["type"].set_string_value(items);
  }
  return value;
}

// An endpoint's entry in endpoint_discovery's `schemas`, as Jina's workers write it: input and
// output models (a name and a JSON schema that Jina's gateway turns into a document class), no
// parameters model, neither generator nor singleton. Shoal's Executors take any document, so every
// endpoint gets docarray's LegacyDocument shape: its fields (scores as Shoal's matches carry
// them), open to more.
const google::protobuf::Struct& AnyDocumentEndpointSchema(bool is_generator = false) {
  if (is_generator) {
    static const google::protobuf::Struct* const kGenerator = [] {
      auto* schema = new google::protobuf::Struct(AnyDocumentEndpointSchema());
      (*schema->mutable_fields())["is_generator"].set_bool_value(true);
      return schema;
    }();
    return *kGenerator;
  }
  static const google::protobuf::Struct* const kSchema = [] {
    google::protobuf::Struct model;
    auto& m = *model.mutable_fields();
    m["title"].set_string_value("LegacyDocument");
    m["type"].set_string_value("object");
    auto& properties = *m["properties"].mutable_struct_value()->mutable_fields();
    properties["id"] = Property("Id", "string");
    properties["text"] = Property("Text", "string");
    properties["url"] = Property("Url", "string");
    properties["blob"] = Property("Blob", "string");
    (*properties["blob"].mutable_struct_value()->mutable_fields())["format"].set_string_value(
        "binary");
    properties["tensor"] = Property("Tensor", "array", "number");
    properties["embedding"] = Property("Embedding", "array", "number");
    for (const char* tensor : {"tensor", "embedding"}) {
      (*properties[tensor].mutable_struct_value()->mutable_fields())["tensor/array shape"]
          .set_string_value("not specified");
    }
    properties["tags"] = Property("Tags", "object");
    properties["chunks"] = Property("Chunks", "array", "object");
    properties["matches"] = Property("Matches", "array", "object");
    properties["scores"] = Property("Scores", "array", "number");

    auto* schema = new google::protobuf::Struct;
    auto& fields = *schema->mutable_fields();
    for (const char* side : {"input", "output"}) {
      auto& doc = *fields[side].mutable_struct_value()->mutable_fields();
      doc["name"].set_string_value("LegacyDocument");
      *doc["model"].mutable_struct_value() = model;
    }
    auto& params = *fields["parameters"].mutable_struct_value()->mutable_fields();
    params["name"].set_null_value(google::protobuf::NULL_VALUE);
    params["model"].set_null_value(google::protobuf::NULL_VALUE);
    fields["is_generator"].set_bool_value(false);
    fields["is_singleton_doc"].set_bool_value(false);
    return schema;
  }();
  return *kSchema;
}

// Ids for the documents that came without one, before the Executor sees them. Seeded by the
// request id, so that every replica applying the same request (a stateful group's log entry, the
// shards of an ALL-polling call) gives the same ids; a request without an id is seeded by its
// documents, serialised deterministically.
void AssignMissingDocIds(jina::DataRequestProto& request) {
  docarray::DocListProto& docs = *request.mutable_data()->mutable_docs();
  doc::AssignMissingIds(docs, [&]() -> std::string {
    if (!request.header().request_id().empty()) return request.header().request_id();
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      docs.SerializeToCodedStream(&coded);
    }
    return "docs:" + DerivedHexId(bytes, "");
  });
}

// What a streaming endpoint writes when it is called through a non-streaming RPC: the answer's
// documents, up to the size of the largest message a replica sends by default.
class CollectingWriter : public DocWriter {
 public:
  explicit CollectingWriter(docarray::DocListProto* out) : out_(out) {}
  static constexpr size_t kMaxBytes = 64 << 20;

  bool Write(const Doc& doc) override {
    bytes_ += doc.proto().ByteSizeLong();
    if (bytes_ > kMaxBytes) {
      full_ = true;
      return false;
    }
    *out_->add_docs() = doc.proto();
    return true;
  }
  bool cancelled() const override { return full_; }
  bool full() const { return full_; }

 private:
  docarray::DocListProto* out_;
  size_t bytes_ = 0;
  bool full_ = false;
};

}  // namespace

ReplicaRuntime::ReplicaRuntime(executor::LoadedExecutor loaded, Options options)
    : options_(std::move(options)),
      cls_(loaded.cls),
      deployment_name_(options_.name.substr(0, options_.name.find('/'))),
      executor_(std::move(loaded.instance)),
      thread_("executor") {
  internal::RuntimeAccess::Init(*executor_, options_.name, options_.workspace);
  for (const internal::EndpointEntry& entry : cls_->endpoints.entries) {
    endpoint_metrics_.push_back(
        metrics::ForReplicaEndpoint(deployment_name_, options_.name, entry.name));
  }
  typical_run_ = std::make_unique<std::atomic<int64_t>[]>(cls_->endpoints.entries.size());
  in_flight_ = metrics::ReplicaInFlight(deployment_name_, options_.name);
  dropped_metric_ = metrics::ReplicaDropped(deployment_name_, options_.name);
}

ReplicaRuntime::~ReplicaRuntime() {
  Post([this] { Close(); });
  thread_.Stop();
}

const internal::EndpointEntry* ReplicaRuntime::Find(std::string_view endpoint) const {
  const internal::EndpointEntry* fallback = nullptr;
  for (const internal::EndpointEntry& entry : cls_->endpoints.entries) {
    if (entry.name == endpoint) return &entry;
    if (entry.name == kDefaultEndpoint) fallback = &entry;
  }
  return fallback;
}

bool ReplicaRuntime::IsWrite(std::string_view endpoint) const {
  if (endpoint == kDryRunEndpoint) return false;
  const internal::EndpointEntry* entry = Find(endpoint);
  return entry != nullptr && entry->write;
}

void ReplicaRuntime::FillEndpoints(jina::EndpointsProto& out) const {
  auto& schemas = *out.mutable_schemas()->mutable_fields();
  for (const internal::EndpointEntry& entry : cls_->endpoints.entries) {
    out.add_endpoints(entry.name);
    if (entry.write) out.add_write_endpoints(entry.name);
    *schemas[entry.name].mutable_struct_value() = AnyDocumentEndpointSchema(entry.is_generator());
  }
  // Jina's gateway looks every listed endpoint up in the schemas and will not start when one
  // is missing; Jina's workers give the dry run any-document models too.
  out.add_endpoints(std::string(kDryRunEndpoint));
  *schemas[std::string(kDryRunEndpoint)].mutable_struct_value() = AnyDocumentEndpointSchema();
}

Status ReplicaRuntime::Invoke(const internal::EndpointEntry& entry, Request& request,
                              DocWriter* out) {
  try {
    if (!entry.is_generator()) return entry.fn(*executor_, request);
    if (out != nullptr) return entry.stream(*executor_, request, *out);
    return CollectStream(entry, internal::RuntimeAccess::State(request));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("uncaught exception: ", e.what()));
  } catch (...) {
    return absl::InternalError("uncaught exception of unknown type");
  }
}

Status ReplicaRuntime::CollectStream(const internal::EndpointEntry& entry,
                                     internal::RequestState& state) {
  docarray::DocListProto& docs = state.docs.proto();
  docarray::DocListProto inputs;
  inputs.mutable_docs()->Swap(docs.mutable_docs());
  CollectingWriter out(&docs);
  for (docarray::DocProto& input : *inputs.mutable_docs()) {
    docarray::DocListProto one;
    one.add_docs()->Swap(&input);
    internal::RequestState single;
    single.docs = DocList(&one);
    single.params = state.params;
    single.endpoint = state.endpoint;
    single.parts = {&one};
    single.part_origins = state.part_origins;
    single.runtime_name = state.runtime_name;
    single.results = state.results;
    single.memory = state.memory;
    single.cancelled = state.cancelled;
    Request request(&single);
    SHOAL_RETURN_IF_ERROR(entry.stream(*executor_, request, out));
    if (out.full()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "streaming endpoint '", entry.name, "' wrote more than ", CollectingWriter::kMaxBytes,
          " bytes for one request; call it through stream_doc to receive them as they come"));
    }
  }
  return absl::OkStatus();
}

bool ReplicaRuntime::Run(const internal::EndpointEntry& entry, internal::RequestState& state,
                         jina::DataRequestProto& response, Clock::time_point arrived,
                         DocWriter* out) {
  processed_.fetch_add(1, std::memory_order_relaxed);
  const bool failed = Call(entry, state, response, out);
  RecordAnswered(entry, arrived, failed);
  return failed;
}

bool ReplicaRuntime::Call(const internal::EndpointEntry& entry, internal::RequestState& state,
                          jina::DataRequestProto& response, DocWriter* out) {
  // `parameters["<deployment name>"]` (a dict) is merged over the parameters for this Executor.
  google::protobuf::Struct merged;
  const google::protobuf::Struct& params = response.parameters();
  auto own = params.fields().find(deployment_name_);
  if (own != params.fields().end() && own->second.has_struct_value()) {
    merged = params;
    for (const auto& [key, value] : own->second.struct_value().fields()) {
      (*merged.mutable_fields())[key] = value;
    }
    state.params = Params(&merged);
  } else {
    state.params = Params(&params);
  }
  state.endpoint = entry.name;
  state.runtime_name = options_.name;
  google::protobuf::Value& results =
      (*response.mutable_parameters()->mutable_fields())["__results__"];
  if (!results.has_struct_value()) results.mutable_struct_value();
  state.results = results.mutable_struct_value();

  {
    absl::MutexLock lock(&running_mu_);
    running_endpoint_ = response.header().exec_endpoint();  // as asked; `entry` may be /default
    running_request_ = response.header().request_id();
    running_since_ = Clock::now();
  }
  Request request(&state);
  internal::CurrentRequestScope current(&state);
  const Clock::time_point started = Clock::now();
  Status status = Invoke(entry, request, out);
  {
    absl::MutexLock lock(&running_mu_);
    running_since_.reset();
  }
  const size_t index = &entry - cls_->endpoints.entries.data();
  // A call cut short because its caller left says nothing about how long the endpoint takes.
  if (!state.cancelled || !state.cancelled()) {
    // The first call sets the average; later ones move it by an eighth of the difference.
    const Clock::duration took = Clock::now() - started;
    const Clock::duration typical(typical_run_[index].load(std::memory_order_relaxed));
    const Clock::duration next =
        typical == Clock::duration::zero() ? took : typical + (took - typical) / 8;
    typical_run_[index].store(std::max<int64_t>(next.count(), 1), std::memory_order_relaxed);
  }
  if (status.ok()) return false;
  std::optional<executor::ExceptionInfo> exception = executor::ExceptionOf(status);
  SHOAL_LOG_WARNING("%s failed on %s (request %s): %s", cls_->name, entry.name,
                    response.header().request_id(),
                    exception ? absl::StrJoin(exception->stacks, "") : status.ToString());
  if (exception.has_value()) {
    SetException(response, *exception, cls_->name);
  } else {
    SetError(response, ErrorName(status.code()), AsStd(status.message()), cls_->name);
  }
  return true;
}

void ReplicaRuntime::RecordAnswered(const internal::EndpointEntry& entry, Clock::time_point arrived,
                                    bool failed) {
  metrics::EndpointMetrics& recorded = endpoint_metrics_[&entry - cls_->endpoints.entries.data()];
  recorded.requests.Increment();
  recorded.latency.Observe(std::chrono::duration<double>(Clock::now() - arrived).count());
  if (failed) recorded.failures.Increment();
}

bool ReplicaRuntime::RunBatch(const internal::EndpointEntry& entry, jina::DataRequestProto& batch,
                              std::shared_ptr<const void> memory, Cancelled cancelled) {
  docarray::DocListProto* docs = batch.mutable_data()->mutable_docs();
  const int inputs = docs->docs_size();
  internal::RequestState state;
  state.docs = DocList(docs);
  state.memory = std::move(memory);
  state.parts = {docs};
  state.part_origins = {std::string_view()};
  state.cancelled = std::move(cancelled);
  if (Call(entry, state, batch)) return true;
  if (docs->docs_size() != inputs) {
    SetError(batch, "ValueError",
             absl::StrFormat("endpoint '%s' is dynamically batched: it must return one document "
                             "per input, in order, and returned %d for %d",
                             entry.name, docs->docs_size(), inputs),
             cls_->name);
    return true;
  }
  return false;
}

const internal::EndpointEntry* ReplicaRuntime::Resolve(std::string_view endpoint) const {
  if (endpoint == kDryRunEndpoint) return nullptr;
  return Find(endpoint);
}

Status ReplicaRuntime::Prepare(jina::DataRequestProto& request) {
  SHOAL_RETURN_IF_ERROR(DecodeDocs(request));
  AssignMissingDocIds(request);
  return absl::OkStatus();
}

// What a request's deadline must leave beyond the endpoint's usual call for the answer to travel.
constexpr std::chrono::milliseconds kAnswerMargin{1};

Status ReplicaRuntime::CheckDeadline(std::string_view endpoint,
                                     std::chrono::system_clock::time_point deadline) const {
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::OkStatus();
  const internal::EndpointEntry* entry = Find(endpoint);
  const Clock::duration typical(
      entry == nullptr
          ? 0
          : typical_run_[entry - cls_->endpoints.entries.data()].load(std::memory_order_relaxed));
  const auto left = deadline - std::chrono::system_clock::now();
  // Room for a call somewhat slower than usual, and for the answer's way back (through a
  // gateway, to the client), so that what starts also arrives in time.
  const Clock::duration needed =
      typical == Clock::duration::zero()
          ? typical
          : typical + typical / 8 + std::chrono::duration_cast<Clock::duration>(kAnswerMargin);
  if (left > needed) return absl::OkStatus();
  if (left <= decltype(left)::zero()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "replica '", options_.name, "': the deadline passed while the request waited"));
  }
  return absl::DeadlineExceededError(absl::StrFormat(
      "replica '%s': the request had %.1f ms left and '%s' takes about %.1f ms; not started",
      options_.name, std::chrono::duration<double, std::milli>(left).count(), std::string(endpoint),
      std::chrono::duration<double, std::milli>(typical).count()));
}

Status ReplicaRuntime::CheckRoom(size_t waiting) const {
  if (options_.max_queued > 0 && thread_.pending() + waiting >= options_.max_queued) {
    return absl::ResourceExhaustedError(absl::StrCat("replica '", options_.name, "' has ",
                                                     options_.max_queued,
                                                     " requests queued (max_queued_requests)"));
  }
  return absl::OkStatus();
}

Status ReplicaRuntime::PostRequest(absl::AnyInvocable<void()> task, std::string_view endpoint) {
  SHOAL_RETURN_IF_ERROR(CheckRoom());
  const bool posted =
      CheapCall(endpoint) ? thread_.RunOrPost(std::move(task)) : thread_.Post(std::move(task));
  if (!posted) return absl::UnavailableError("replica is shutting down");
  return absl::OkStatus();
}

namespace {
thread_local bool post_only = false;
}  // namespace

ReplicaRuntime::PostOnlyScope::PostOnlyScope() : previous_(post_only) { post_only = true; }
ReplicaRuntime::PostOnlyScope::~PostOnlyScope() { post_only = previous_; }

bool ReplicaRuntime::CheapCall(std::string_view endpoint) const {
  if (endpoint.empty() || !cls_->inline_calls || post_only) return false;
  const internal::EndpointEntry* entry = Find(endpoint);
  if (entry == nullptr) return false;
  const Clock::duration typical(
      typical_run_[entry - cls_->endpoints.entries.data()].load(std::memory_order_relaxed));
  // 0: never called yet, so not known to be cheap.
  return typical > Clock::duration::zero() && typical < kInlineBelow;
}

StatusOr<bool> ReplicaRuntime::Process(jina::DataRequestProto& request, Clock::time_point arrived,
                                       std::shared_ptr<const void> memory, Cancelled cancelled) {
  SHOAL_RETURN_IF_ERROR(Prepare(request));
  // A dry run, or no handler and no /default: the request passes through (its docs given ids
  // like every other), as in Jina.
  if (request.header().exec_endpoint() == kDryRunEndpoint) return false;
  const internal::EndpointEntry* entry = Find(request.header().exec_endpoint());
  if (entry == nullptr) return false;
  docarray::DocListProto* docs = request.mutable_data()->mutable_docs();
  internal::RequestState state;
  state.docs = DocList(docs);
  state.memory = std::move(memory);
  state.cancelled = std::move(cancelled);
  state.parts = {docs};
  state.part_origins = {request.routes_size() > 0
                            ? std::string_view(request.routes().rbegin()->executor())
                            : std::string_view()};
  return Run(*entry, state, request, arrived);
}

StatusOr<bool> ReplicaRuntime::ProcessStream(jina::DataRequestProto& request, DocWriter& out,
                                             Clock::time_point arrived,
                                             std::shared_ptr<const void> memory) {
  docarray::DocListProto* docs = request.mutable_data()->mutable_docs();
  if (docs->docs_size() == 0) docs->add_docs();  // a request without its document: an empty one
  AssignMissingDocIds(request);
  const internal::EndpointEntry* entry = request.header().exec_endpoint() == kDryRunEndpoint
                                             ? nullptr
                                             : Find(request.header().exec_endpoint());
  internal::RequestState state;
  state.docs = DocList(docs);
  state.memory = std::move(memory);
  state.parts = {docs};
  state.part_origins = {std::string_view()};
  if (entry != nullptr && entry->is_generator()) return Run(*entry, state, request, arrived, &out);
  if (entry != nullptr && Run(*entry, state, request, arrived)) return true;
  for (docarray::DocProto& doc : *docs->mutable_docs()) {
    if (!out.Write(Doc(&doc))) break;
  }
  return false;
}

StatusOr<bool> ReplicaRuntime::ProcessParts(jina::DataRequestListProto& parts,
                                            jina::DataRequestProto& response,
                                            Clock::time_point arrived,
                                            std::shared_ptr<const void> memory,
                                            Cancelled cancelled) {
  if (parts.requests_size() == 0) {
    return absl::InvalidArgumentError("process_data got a DataRequestListProto with no requests");
  }
  for (jina::DataRequestProto& part : *parts.mutable_requests()) {
    SHOAL_RETURN_IF_ERROR(DecodeDocs(part));
    AssignMissingDocIds(part);
  }
  const jina::DataRequestProto& first = parts.requests(0);
  *response.mutable_header() = first.header();
  *response.mutable_parameters() = first.parameters();
  *response.mutable_routes() = first.routes();
  docarray::DocListProto* docs = response.mutable_data()->mutable_docs();
  internal::RequestState state;
  state.docs = DocList(docs);
  state.memory = std::move(memory);
  state.cancelled = std::move(cancelled);
  for (jina::DataRequestProto& part : *parts.mutable_requests()) {
    docarray::DocListProto* part_docs = part.mutable_data()->mutable_docs();
    for (const docarray::DocProto& doc : part_docs->docs()) *docs->add_docs() = doc;
    state.parts.push_back(part_docs);
    state.part_origins.push_back(part.routes_size() > 0 ? part.routes().rbegin()->executor()
                                                        : std::string_view());
  }
  if (first.header().exec_endpoint() == kDryRunEndpoint) return false;
  const internal::EndpointEntry* entry = Find(first.header().exec_endpoint());
  if (entry == nullptr) return false;
  return Run(*entry, state, response, arrived);
}

bool ReplicaRuntime::WaitIdle(absl::Duration timeout) {
  // Shared with the task, which may run after this call gave up.
  auto done = std::make_shared<absl::Notification>();
  if (!thread_.Post([done] { done->Notify(); })) return true;  // stopped: nothing runs
  return done->WaitForNotificationWithTimeout(timeout);
}

std::string ReplicaRuntime::Running() const {
  absl::MutexLock lock(&running_mu_);
  if (!running_since_.has_value()) return "";
  const double seconds = std::chrono::duration<double>(Clock::now() - *running_since_).count();
  return absl::StrFormat("endpoint '%s', request '%s', running for %.1fs", running_endpoint_,
                         running_request_, seconds);
}

void ReplicaRuntime::Close() {
  if (closed_) return;
  closed_ = true;
  executor_->Close();
}

}  // namespace shoal::replica
