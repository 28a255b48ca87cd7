// DocStreamer: a plan per endpoint (which node streams, the parts of the graph before and after
// it), then per call a Run: the part before answers the client's document, the streaming node is
// called over stream_doc once per document of that answer, and each message it sends goes
// through the part after; answers are sent in the order the node wrote them, and the node is
// read only while fewer than kWindow messages are in the part after or unsent to the client.
#include "src/gateway/doc_stream.h"

#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/gateway/request_rewrite.h"
#include "src/routing/stream_doc.h"
#include "src/rpc/auth.h"
#include "src/rpc/server_stream.h"
#include "src/rpc/single_doc.h"

namespace shoal::gateway {

struct DocStreamer::Plan {
  std::optional<size_t> node;  // the streaming node; none: the whole graph answers
  std::string name;
  routing::DeploymentRouter* router = nullptr;
  std::unique_ptr<Gateway> before;  // the nodes before it; null: the client's doc goes to it
  std::unique_ptr<Gateway> after;   // the nodes after it; null: what it writes is the answer
};

namespace {

constexpr char kStreamRpc[] = "jina.JinaSingleDocumentRequestRPC/stream_doc";

template <typename Proto>
bool Parse(const grpc::ByteBuffer& buffer, Proto& proto) {
  grpc::Slice slice;
  if (!buffer.DumpToSingleSlice(&slice).ok()) return false;
  return proto.ParseFromArray(slice.begin(), static_cast<int>(slice.size()));
}

grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

// ancestors[n][m]: node m comes before node n (n needs it, directly or not).
std::vector<std::vector<bool>> Ancestors(const std::vector<GraphNode>& nodes) {
  const size_t n = nodes.size();
  std::vector<std::vector<bool>> ancestors(n, std::vector<bool>(n, false));
  // Needs may name any node; repeat until nothing changes (graphs are small and acyclic).
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < n; ++i) {
      for (size_t need : nodes[i].needs) {
        for (size_t m = 0; m < n; ++m) {
          const bool via = m == need || ancestors[need][m];
          if (via && !ancestors[i][m]) ancestors[i][m] = changed = true;
        }
      }
    }
  }
  return ancestors;
}

StatusOr<size_t> StreamingNode(const Gateway& gateway, const std::string& endpoint,
                               const std::vector<std::vector<bool>>& ancestors) {
  const std::vector<GraphNode>& nodes = gateway.nodes();
  std::vector<bool> streams(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) streams[i] = gateway.Streams(i, endpoint);
  std::vector<size_t> first;
  for (size_t i = 0; i < nodes.size(); ++i) {
    bool earlier = false;
    for (size_t m = 0; m < nodes.size(); ++m) earlier = earlier || (ancestors[i][m] && streams[m]);
    if (streams[i] && !earlier) first.push_back(i);
  }
  if (first.empty()) return absl::NotFoundError("no node streams");
  if (first.size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Deployments '", nodes[first[0]].name, "' and '", nodes[first[1]].name, "' both stream '",
        endpoint, "' on parallel branches of the Flow; a stream goes through one of them"));
  }
  return first[0];
}

StatusOr<std::shared_ptr<const DocStreamer::Plan>> MakePlan(const Gateway& gateway,
                                                            const std::string& endpoint) {
  auto plan = std::make_shared<DocStreamer::Plan>();
  if (!gateway.end().has_value()) return plan;
  const std::vector<GraphNode>& nodes = gateway.nodes();
  const std::vector<std::vector<bool>> ancestors = Ancestors(nodes);
  StatusOr<size_t> found = StreamingNode(gateway, endpoint, ancestors);
  if (absl::IsNotFound(found.status())) return plan;
  if (!found.ok()) return found.status();
  const size_t s = *found;
  const GraphNode& node = nodes[s];
  if (node.needs.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("Deployment '", node.name, "' streams '", endpoint,
                     "' and joins several branches; a streaming Deployment takes one predecessor"));
  }
  const size_t end = *gateway.end();
  std::vector<size_t> before, after;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (ancestors[s][i]) before.push_back(i);
    if (ancestors[i][s]) after.push_back(i);
  }
  if (end != s && !ancestors[end][s]) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the Flow's answer comes from '", nodes[end].name, "', which does not follow '", node.name,
        "', the Deployment that streams '", endpoint, "'"));
  }
  for (size_t i : after) {
    for (size_t need : nodes[i].needs) {
      if (need != s && !ancestors[need][s]) {
        return absl::FailedPreconditionError(absl::StrCat(
            "Deployment '", nodes[i].name, "' joins the stream of '", node.name, "' with '",
            nodes[need].name, "', which does not follow it; a stream cannot be joined"));
      }
    }
  }
  plan->node = s;
  plan->name = node.name;
  plan->router = node.router;
  if (!node.needs.empty()) plan->before = gateway.Part(before, node.needs[0]);
  if (end != s) plan->after = gateway.Part(after, end);
  return plan;
}

grpc::Status Named(const std::string& deployment, const grpc::Status& status) {
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) return status;
  return grpc::Status(status.error_code(),
                      absl::StrCat("Deployment '", deployment, "': ", status.error_message()));
}

// One stream_doc call through the graph.
class Run final : public DocStreamRun {
 public:
  static constexpr size_t kWindow = 8;

  Run(std::shared_ptr<const DocStreamer::Plan> plan, Status plan_error, Gateway* gateway,
      jina::DataRequestProto request, Deadline deadline, std::shared_ptr<DocStreamSink> sink)
      : plan_(std::move(plan)),
        plan_error_(std::move(plan_error)),
        gateway_(gateway),
        hold_(gateway->Hold()),
        request_(std::move(request)),
        deadline_(deadline),
        sink_(std::move(sink)) {}

  void Start() override {
    if (!plan_error_.ok()) {
      End(grpc::Status(static_cast<grpc::StatusCode>(plan_error_.code()),
                       std::string(plan_error_.message())));
      return;
    }
    grpc::ByteBuffer bytes = Serialize(request_);
    StatusOr<RequestHead> head = ReadRequestHead(bytes);
    if (!head.ok()) {
      End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(head.status().message())));
      return;
    }
    head_ = *std::move(head);
    auto self = std::static_pointer_cast<Run>(shared_from_this());
    Gateway* first = plan_->node.has_value() ? plan_->before.get() : gateway_;
    if (first == nullptr) {
      routing::SendResult direct;
      direct.response = std::move(bytes);
      OnBefore(std::move(direct));
      return;
    }
    first->Process(std::move(bytes), head_, deadline_,
                   [self](routing::SendResult result) { self->OnBefore(std::move(result)); });
  }

  void Resume() override { MaybeRead(); }

  void Cancel() override { End(grpc::Status::CANCELLED); }

 private:
  // The answer of the graph before the streaming node (or of the whole graph).
  void OnBefore(routing::SendResult result) {
    if (!result.status.ok()) {
      End(result.status);
      return;
    }
    jina::DataRequestProto answer;
    if (!Parse(result.response, answer)) {
      End(grpc::Status(grpc::StatusCode::INTERNAL, "an answer is not a DataRequestProto"));
      return;
    }
    if (result.is_error() || answer.header().status().code() == jina::StatusProto::ERROR) {
      sink_->Send(rpc::HeadMessage(rpc::MessageHead(answer)));
      End(grpc::Status::OK);
      return;
    }
    if (!plan_->node.has_value()) {
      const std::string head = rpc::MessageHead(answer);
      for (const docarray::DocProto& doc : answer.data().docs().docs()) {
        sink_->Send(rpc::DocMessage(head, doc));
      }
      End(grpc::Status::OK);
      return;
    }
    if (head_.specific_parameters != nullptr) {
      *answer.mutable_parameters() =
          NodeParameters(*head_.specific_parameters, plan_->name, answer.parameters());
    }
    {
      absl::MutexLock lock(&mu_);
      input_head_ = rpc::MessageHead(answer);
      for (docarray::DocProto& doc : *answer.mutable_data()->mutable_docs()->mutable_docs()) {
        inputs_.push_back(std::move(doc));
      }
    }
    StreamNext();
  }

  // Streams the next document through the streaming node, or ends after the last.
  void StreamNext() {
    grpc::ByteBuffer request;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      if (!inputs_.empty()) {
        request = rpc::DocMessage(input_head_, inputs_.front());
        inputs_.pop_front();
      }
    }
    if (request.Length() == 0) {
      End(grpc::Status::OK);
      return;
    }
    auto self = std::static_pointer_cast<Run>(shared_from_this());
    std::shared_ptr<routing::DocStream> upstream = routing::DocStream::Make(
        *plan_->router, head_.endpoint, std::move(request), deadline_,
        {.on_message = [self](grpc::ByteBuffer message) { self->OnMessage(std::move(message)); },
         .on_done = [self](grpc::Status status) { self->OnStreamDone(std::move(status)); }});
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      upstream_ = upstream;
      cancelled = stopped_;  // ended meanwhile, before End could see the call
    }
    if (cancelled) upstream->Cancel();  // it then ends at once, CANCELLED
    upstream->Begin();
  }

  void OnMessage(grpc::ByteBuffer message) {
    jina::SingleDocumentRequestProto parsed;
    if (!Parse(message, parsed)) {
      End(grpc::Status(grpc::StatusCode::INTERNAL,
                       absl::StrCat("Deployment '", plan_->name,
                                    "' sent a stream message that is not a "
                                    "SingleDocumentRequestProto")));
      return;
    }
    uint64_t sequence;
    {
      absl::MutexLock lock(&mu_);
      sequence = next_sequence_++;
      ++in_flight_;
    }
    const bool error = parsed.header().status().code() == jina::StatusProto::ERROR;
    if (error || plan_->after == nullptr) {
      std::vector<grpc::ByteBuffer> messages;
      messages.push_back(std::move(message));
      Deliver(sequence, std::move(messages), error);
    } else {
      grpc::ByteBuffer request = Serialize(rpc::ToDataRequest(parsed));
      auto self = std::static_pointer_cast<Run>(shared_from_this());
      plan_->after->Process(std::move(request), head_, deadline_,
                            [self, sequence](routing::SendResult result) {
                              self->OnAfter(sequence, std::move(result));
                            });
    }
    MaybeRead();
  }

  void OnAfter(uint64_t sequence, routing::SendResult result) {
    jina::DataRequestProto answer;
    if (!result.status.ok() || !Parse(result.response, answer)) {
      End(result.status.ok()
              ? grpc::Status(grpc::StatusCode::INTERNAL, "an answer is not a DataRequestProto")
              : result.status);
      return;
    }
    const std::string head = rpc::MessageHead(answer);
    std::vector<grpc::ByteBuffer> messages;
    const bool error =
        result.is_error() || answer.header().status().code() == jina::StatusProto::ERROR;
    if (error) {
      messages.push_back(rpc::HeadMessage(head));
    } else {
      for (const docarray::DocProto& doc : answer.data().docs().docs()) {
        messages.push_back(rpc::DocMessage(head, doc));
      }
    }
    Deliver(sequence, std::move(messages), error);
  }

  // Sends what is ready in order; one thread at a time sends, so that order holds.
  void Deliver(uint64_t sequence, std::vector<grpc::ByteBuffer> messages, bool last) {
    {
      absl::MutexLock lock(&mu_);
      ready_[sequence] = {std::move(messages), last};
      if (sending_) return;
      sending_ = true;
    }
    bool end = false;
    for (;;) {
      std::vector<grpc::ByteBuffer> batch;
      {
        absl::MutexLock lock(&mu_);
        while (!end && !ready_.empty() && ready_.begin()->first == next_out_) {
          auto& [out, was_last] = ready_.begin()->second;
          for (grpc::ByteBuffer& m : out) batch.push_back(std::move(m));
          end = was_last;
          ready_.erase(ready_.begin());
          ++next_out_;
          --in_flight_;
        }
        if (batch.empty()) {
          sending_ = false;
          break;
        }
      }
      for (grpc::ByteBuffer& m : batch) sink_->Send(std::move(m));
    }
    if (end) {
      End(grpc::Status::OK);  // an Executor error: its message was the last
      return;
    }
    AdvanceIfDone();
    MaybeRead();
  }

  void OnStreamDone(grpc::Status status) {
    std::shared_ptr<routing::DocStream> finished;
    {
      absl::MutexLock lock(&mu_);
      finished = std::move(upstream_);
      upstream_done_ = true;
      upstream_status_ = Named(plan_->name, status);
    }
    AdvanceIfDone();
  }

  // Once the streaming node's call ended and everything it sent is out: the next input, or the
  // end (with its failure, if it failed).
  void AdvanceIfDone() {
    grpc::Status status;
    bool more;
    {
      absl::MutexLock lock(&mu_);
      // While a thread sends (Deliver), what it took off in_flight_ is not out yet: it calls
      // this again once done.
      if (!upstream_done_ || in_flight_ > 0 || sending_ || stopped_) return;
      upstream_done_ = false;  // taken: one caller goes on
      status = upstream_status_;
      more = !inputs_.empty();
    }
    if (!status.ok() || !more) {
      End(status);
      return;
    }
    StreamNext();
  }

  void MaybeRead() {
    std::shared_ptr<routing::DocStream> upstream;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || upstream_ == nullptr) return;
      if (in_flight_ + sink_->Unsent() >= kWindow) return;
      upstream = upstream_;
    }
    upstream->Next();
  }

  void End(grpc::Status status) {
    std::shared_ptr<routing::DocStream> upstream;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      upstream = upstream_;
    }
    if (upstream != nullptr) upstream->Cancel();
    Finish(std::move(status));
  }

  void Finish(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      ended_ = true;
    }
    sink_->Finish(std::move(status));
  }

  const std::shared_ptr<const DocStreamer::Plan> plan_;
  const Status plan_error_;
  Gateway* const gateway_;
  const std::shared_ptr<void> hold_;  // the gateway drains only once this stream is over
  jina::DataRequestProto request_;    // the client's, as a one-document request
  const Deadline deadline_;
  const std::shared_ptr<DocStreamSink> sink_;
  RequestHead head_;  // set by Start

  absl::Mutex mu_;
  std::string input_head_ ABSL_GUARDED_BY(mu_);  // head of the streaming node's requests
  std::deque<docarray::DocProto> inputs_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<routing::DocStream> upstream_ ABSL_GUARDED_BY(mu_);
  bool upstream_done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status upstream_status_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_out_ ABSL_GUARDED_BY(mu_) = 0;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // messages read, not yet sent on
  std::map<uint64_t, std::pair<std::vector<grpc::ByteBuffer>, bool>> ready_ ABSL_GUARDED_BY(mu_);
  bool sending_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // no more reads or inputs
  bool ended_ ABSL_GUARDED_BY(mu_) = false;    // the sink was finished
};

// The gRPC side of a stream: rpc::ServerStream, its client's cancel and progress sent to the
// run once it exists.
class GrpcSink : public DocStreamSink {
 public:
  explicit GrpcSink(std::shared_ptr<rpc::ServerStream> stream) : stream_(std::move(stream)) {}
  void Send(grpc::ByteBuffer message) override { stream_->TryWrite(std::move(message)); }
  size_t Unsent() const override { return stream_->queued(); }
  void Finish(grpc::Status status) override { stream_->Finish(std::move(status)); }

 private:
  const std::shared_ptr<rpc::ServerStream> stream_;
};

// Lets the stream's callbacks reach the run, which is made after the stream.
struct RunRef {
  absl::Mutex mu;
  std::weak_ptr<DocStreamRun> run ABSL_GUARDED_BY(mu);
  std::shared_ptr<DocStreamRun> Get() {
    absl::MutexLock lock(&mu);
    return run.lock();
  }
};

}  // namespace

DocStreamer::~DocStreamer() = default;

StatusOr<std::shared_ptr<const DocStreamer::Plan>> DocStreamer::PlanFor(
    const std::string& endpoint) {
  {
    absl::MutexLock lock(&mu_);
    auto it = plans_.find(endpoint);
    if (it != plans_.end()) return it->second;
  }
  StatusOr<std::shared_ptr<const Plan>> plan = MakePlan(*gateway_, endpoint);
  if (!plan.ok()) return plan.status();
  // Only plans of endpoints the Executors list, made once discovery is complete, are kept: a
  // name a client makes up must not grow the map, and a plan made without discovery may change.
  if (!gateway_->KnownEndpoint(endpoint)) return plan;
  absl::MutexLock lock(&mu_);
  return plans_.emplace(endpoint, *std::move(plan)).first->second;
}

std::shared_ptr<DocStreamRun> DocStreamer::Prepare(jina::SingleDocumentRequestProto request,
                                                   Deadline deadline,
                                                   std::shared_ptr<DocStreamSink> sink) {
  jina::DataRequestProto data = rpc::ToDataRequest(request);
  StatusOr<std::shared_ptr<const Plan>> plan = PlanFor(data.header().exec_endpoint());
  Status error = plan.status();
  return std::make_shared<Run>(plan.ok() ? *std::move(plan) : nullptr, std::move(error), gateway_,
                               std::move(data), deadline, std::move(sink));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamDocService::stream_doc(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes) {
  auto ref = std::make_shared<RunRef>();
  std::shared_ptr<rpc::ServerStream> stream =
      rpc::ServerStream::Make({.max_queued = Run::kWindow,
                               .on_sent =
                                   [ref] {
                                     if (auto run = ref->Get()) run->Resume();
                                   },
                               .on_cancel =
                                   [ref] {
                                     if (auto run = ref->Get()) run->Cancel();
                                   },
                               .context = context});
  grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor = stream->reactor();
  if (grpc::Status auth = rpc::CheckAuth(*context, token_); !auth.ok()) {
    stream->Finish(auth);
    return reactor;
  }
  jina::SingleDocumentRequestProto request;
  if (!Parse(*bytes, request)) {
    stream->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat(kStreamRpc, ": the request is not a jina.SingleDocumentRequestProto")));
    return reactor;
  }
  Deadline deadline;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    deadline = context->deadline();
  }
  std::shared_ptr<DocStreamRun> run =
      streamer_.Prepare(std::move(request), deadline, std::make_shared<GrpcSink>(stream));
  {
    absl::MutexLock lock(&ref->mu);
    ref->run = run;
  }
  run->Start();
  if (stream->cancelled()) run->Cancel();
  return reactor;
}

}  // namespace shoal::gateway
