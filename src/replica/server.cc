// ReplicaServer: callback-API gRPC services over the ReplicaRuntime. Reactors never block: each
// request is posted to the executor thread, which finishes the call when the Executor is done.
// The data methods take raw bytes: a request's documents are counted before it is parsed (once,
// into an arena), it is answered in place, and the answer is serialized from there.
#include "src/replica/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "jina.grpc.pb.h"
#include "src/common/always_called.h"
#include "src/common/log.h"
#include "src/common/strings.h"
#include "src/replica/dispatcher.h"
#include "src/replica/membership.h"
#include "src/replica/stateful.h"
#include "src/replica/stream_service.h"
#include "src/replica/wire.h"
#include "src/rpc/auth.h"
#include "src/rpc/call_stream.h"
#include "src/rpc/jina_services.h"
#include "src/rpc/server.h"
#include "src/rpc/status.h"

namespace shoal::replica {
namespace {

// Arenas start with room for a typical batch (100 docs x 128-d is about 66 KB on the wire) so
// that parsing one request takes a few block allocations, not dozens.
google::protobuf::ArenaOptions RequestArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 1 << 20;
  return options;
}

// A request parsed into its own arena, which is freed at once with it. Unary calls and Call
// streams read raw bytes, so that a document count can refuse a request before it is parsed and
// an unparseable one is answered INVALID_ARGUMENT naming the RPC.
template <typename Proto>
struct ArenaMessage {
  google::protobuf::Arena arena{RequestArenaOptions()};
  Proto* proto = google::protobuf::Arena::CreateMessage<Proto>(&arena);
};
using StreamMessage = ArenaMessage<jina::DataRequestProto>;

constexpr std::string_view kSingleRpc = "jina.JinaSingleDataRequestRPC/process_single_data";
constexpr std::string_view kDataRpc = "jina.JinaDataRequestRPC/process_data";
constexpr std::string_view kCallRpc = "jina.JinaRPC/Call";

// Checks the docs limit, then parses; the first error is the answer. Shared (one allocation with
// its count): an Executor may keep views of the request past its call (RequestState::memory).
template <typename Proto>
StatusOr<std::shared_ptr<ArenaMessage<Proto>>> ReadRequest(const grpc::ByteBuffer& buffer,
                                                           int64_t max_docs, std::string_view rpc) {
  SHOAL_RETURN_IF_ERROR(
      CheckDocsLimit(buffer, std::is_same_v<Proto, jina::DataRequestListProto>, max_docs, rpc));
  auto message = std::make_shared<ArenaMessage<Proto>>();
  SHOAL_RETURN_IF_ERROR(ParseRequest(buffer, *message->proto, rpc));
  return message;
}

// Whether a unary call's client is gone: it cancelled or disconnected, or its deadline passed
// (what the Executor reads through request_cancelled()). Any thread while the call lives.
ReplicaRuntime::Cancelled CallerGone(grpc::CallbackServerContext* context) {
  return [context] {
    return context->IsCancelled() || context->deadline() <= std::chrono::system_clock::now();
  };
}

// Why a queued request must not run: its caller is gone, or its deadline leaves less time than
// the endpoint usually takes (counted as dropped then); OK to run it. Executor thread.
Status BeforeRunning(ReplicaRuntime& runtime, bool caller_gone,
                     const jina::DataRequestProto& request,
                     std::chrono::system_clock::time_point deadline) {
  Status verdict = caller_gone ? absl::CancelledError("the client cancelled the call")
                               : runtime.CheckDeadline(request.header().exec_endpoint(), deadline);
  if (!verdict.ok()) runtime.CountDropped();
  return verdict;
}

// A deadline on the steady clock; none for "no deadline" (gRPC's infinite future).
std::optional<ReplicaRuntime::Clock::time_point> SteadyDeadline(
    std::chrono::system_clock::time_point deadline) {
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return std::nullopt;
  }
  return ReplicaRuntime::Clock::now() + std::chrono::duration_cast<ReplicaRuntime::Clock::duration>(
                                            deadline - std::chrono::system_clock::now());
}

// Queues a request for its batch when its endpoint is batched and it has documents; `done` then
// answers it. Returns false when the request is to run alone; otherwise it is queued or `refused`
// was called with why not.
template <typename Done, typename Refused>
bool SubmitToBatch(Batcher* batcher, std::chrono::system_clock::time_point deadline,
                   jina::DataRequestProto* request, std::shared_ptr<const void> memory,
                   absl::AnyInvocable<bool()> cancelled, Done done, Refused refused) {
  if (batcher == nullptr || !batcher->Batches(request->header().exec_endpoint())) return false;
  Status prepared = ReplicaRuntime::Prepare(*request);
  if (!prepared.ok()) {
    refused(prepared);
    return true;
  }
  if (request->data().docs().docs_size() == 0) return false;
  Status queued = batcher->Submit({.request = request,
                                   .memory = std::move(memory),
                                   .arrived = ReplicaRuntime::Clock::now(),
                                   .deadline = SteadyDeadline(deadline),
                                   .cancelled = std::move(cancelled),
                                   .done = std::move(done)});
  if (!queued.ok()) refused(queued);
  return true;
}

// Answers a unary call with `answer` serialized into `response`.
void FinishWith(grpc::ServerUnaryReactor* reactor, const jina::DataRequestProto& answer,
                grpc::ByteBuffer* response) {
  Status serialized = SerializeAnswer(answer, *response);
  reactor->Finish(serialized.ok() ? grpc::Status::OK : rpc::ToGrpc(serialized));
}

// JinaRPC/Call: requests are read ahead (up to kMaxHeld in flight or answered but not yet
// sent), processed in order on the executor thread, and written back as they complete.
class ReplicaStream : public rpc::CallStream {
 public:
  ReplicaStream(grpc::CallbackServerContext* context, ReplicaRuntime* runtime,
                const Dispatcher* dispatcher, Batcher* batcher, int64_t max_docs, bool batched)
      : CallStream(context, {.max_held = kMaxHeld, .batched = batched}),
        runtime_(runtime),
        dispatcher_(dispatcher),
        batcher_(batcher),
        max_docs_(max_docs) {}

  static constexpr size_t kMaxHeld = 64;

 private:
  void Handle(uint64_t sequence, grpc::ByteBuffer bytes) override {
    StatusOr<std::shared_ptr<StreamMessage>> read = ReadRequest<jina::DataRequestProto>(
        bytes, max_docs_, absl::StrCat(AsAbsl(kCallRpc), " message #", sequence));
    if (!read.ok()) {
      Complete(sequence, read.status());
      return;
    }
    std::shared_ptr<StreamMessage> message = std::move(read).value();
    const jina::DataRequestProto& proto = *message->proto;
    // A write's answer comes from the Raft log; a follower refuses a write or a linearizable
    // read "not the leader" (that message's answer).
    dispatcher_->Dispatch(
        proto, [&bytes] { return BufferBytes(bytes); },
        [this, sequence, message]() mutable { Process(sequence, std::move(message)); },
        [this, sequence](StatusOr<WriteAnswer> answer) {
          if (!answer.ok()) {
            Complete(sequence, answer.status());
            return;
          }
          Complete(sequence, BufferOf(std::move(answer->bytes)));
        });
  }

  // Runs the Executor on a streamed message (on the executor thread), then answers it.
  void Process(uint64_t sequence, std::shared_ptr<StreamMessage> message) {
    jina::DataRequestProto* proto = message->proto;
    if (SubmitToBatch(
            batcher_, context()->deadline(), proto, message, [this] { return cancelled(); },
            [this, sequence, message,
             in_flight = InFlight(runtime_->in_flight())](StatusOr<bool> executor_failed) mutable {
              Answer(sequence, std::move(message), executor_failed.status());
            },
            [this, sequence, message](const Status& refused) mutable {
              Answer(sequence, std::move(message), refused);
            })) {
      return;
    }
    // A view into the message, which the task below co-owns: PostRequest reads it first.
    const std::string_view endpoint = proto->header().exec_endpoint();
    Status posted = runtime_->PostRequest(
        [this, sequence, message, arrived = ReplicaRuntime::Clock::now(),
         in_flight = InFlight(runtime_->in_flight())]() mutable {
          if (Status run =
                  BeforeRunning(*runtime_, cancelled(), *message->proto, context()->deadline());
              !run.ok()) {
            Answer(sequence, std::move(message), run);
            return;
          }
          StatusOr<bool> executor_failed =
              runtime_->Process(*message->proto, arrived, message, [this] { return cancelled(); });
          Answer(sequence, std::move(message), executor_failed.status());
        },
        endpoint);
    if (!posted.ok()) Answer(sequence, std::move(message), posted);
  }

  // Serializes the answer (the arena goes as soon as it is bytes, unless the Executor still holds
  // views of it), or passes on the error.
  void Answer(uint64_t sequence, std::shared_ptr<StreamMessage> message, const Status& status) {
    if (!status.ok()) {
      message.reset();
      Complete(sequence, status);
      return;
    }
    grpc::ByteBuffer answer;
    Status serialized = SerializeAnswer(*message->proto, answer);
    message.reset();
    if (!serialized.ok()) {
      Complete(sequence, serialized);
      return;
    }
    Complete(sequence, std::move(answer));
  }

  ReplicaRuntime* const runtime_;
  const Dispatcher* const dispatcher_;
  Batcher* const batcher_;  // null when no endpoint is batched
  const int64_t max_docs_;
};

// What _status says about a replica.
void FillInfo(const ReplicaRuntime& runtime, jina::JinaInfoProto& response) {
  auto& info = *response.mutable_jina();
  info["shoal"] = SHOAL_VERSION;
  info["executor"] = runtime.class_name();
  info["name"] = runtime.name();
  info["grpc"] = grpc::Version();
  info["proto-backend"] = "cpp";
  info["pending_requests"] = std::to_string(runtime.pending());
  info["processed_requests"] = std::to_string(runtime.processed());
  info["dropped_requests"] = std::to_string(runtime.dropped());
  auto& envs = *response.mutable_envs();
  for (const char* name :
       {"CUDA_VISIBLE_DEVICES", "JINA_DEPLOYMENT_NAME", "OPENBLAS_NUM_THREADS", "GOMAXPROCS"}) {
    if (const char* value = std::getenv(name); value != nullptr) envs[name] = value;
  }
}

}  // namespace

// All Jina services of a replica. Each handler hands its call to the executor thread.
class ReplicaServer::Services {
 public:
  Services(ReplicaRuntime* runtime, StatefulReplica* stateful, int64_t max_docs,
           const std::string& token, BatchingTable batching)
      : dispatcher_(runtime, stateful),
        batcher_(batching.empty() ? nullptr
                                  : std::make_unique<Batcher>(runtime, std::move(batching))),
        single_(runtime, &dispatcher_, batcher_.get(), max_docs, token),
        data_(runtime, &dispatcher_, max_docs, token),
        call_(token,
              [runtime, dispatcher = &dispatcher_, batcher = batcher_.get(),
               max_docs](grpc::CallbackServerContext* context) {
                return new ReplicaStream(context, runtime, dispatcher, batcher, max_docs,
                                         /*batched=*/false);
              }),
        batch_call_(token,
                    [runtime, dispatcher = &dispatcher_, batcher = batcher_.get(),
                     max_docs](grpc::CallbackServerContext* context) {
                      return new ReplicaStream(context, runtime, dispatcher, batcher, max_docs,
                                               /*batched=*/true);
                    }),
        discovery_(token,
                   [runtime](rpc::DiscoveryService::Done done) {
                     jina::EndpointsProto endpoints;
                     runtime->FillEndpoints(endpoints);
                     done(std::move(endpoints));
                   }),
        info_(token, [runtime](jina::JinaInfoProto& info) { FillInfo(*runtime, info); }),
        stream_doc_(runtime, &dispatcher_, token) {
    if (stateful != nullptr) membership_ = std::make_unique<MembershipService>(stateful, token);
  }

  void Register(grpc::ServerBuilder& builder) {
    builder.RegisterService(&single_);
    builder.RegisterService(&data_);
    builder.RegisterService(&call_);
    builder.RegisterService(&batch_call_);
    builder.RegisterService(&discovery_);
    builder.RegisterService(&info_);
    builder.RegisterService(&stream_doc_);
    if (membership_ != nullptr) builder.RegisterService(membership_.get());
  }

  void Direct(const grpc::ByteBuffer& request, std::chrono::system_clock::time_point deadline,
              ReplicaRuntime::Cancelled gone, const std::atomic<bool>* abandoned, DirectDone done) {
    single_.Direct(request, deadline, std::move(gone), abandoned, std::move(done));
  }

  // Flushes every batch queue: a draining replica answers what it holds without waiting.
  void Drain() {
    if (batcher_ != nullptr) batcher_->Drain();
  }

  static std::vector<std::string> Names() {
    return {jina::JinaSingleDataRequestRPC::service_full_name(),
            jina::JinaDataRequestRPC::service_full_name(),
            jina::JinaRPC::service_full_name(),
            shoal::v1::DataBatchRPC::service_full_name(),
            jina::JinaDiscoverEndpointsRPC::service_full_name(),
            jina::JinaInfoRPC::service_full_name(),
            jina::JinaSingleDocumentRequestRPC::service_full_name()};
  }

 private:
  using Request = ArenaMessage<jina::DataRequestProto>;

  class Single : public rpc::SingleBase {
   public:
    Single(ReplicaRuntime* runtime, const Dispatcher* dispatcher, Batcher* batcher,
           int64_t max_docs, std::string token)
        : runtime_(runtime),
          dispatcher_(dispatcher),
          batcher_(batcher),
          max_docs_(max_docs),
          token_(std::move(token)) {}
    grpc::ServerUnaryReactor* process_single_data(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* bytes,
                                                  grpc::ByteBuffer* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      StatusOr<std::shared_ptr<Request>> read =
          ReadRequest<jina::DataRequestProto>(*bytes, max_docs_, kSingleRpc);
      if (!read.ok()) {
        reactor->Finish(rpc::ToGrpc(read.status()));
        return reactor;
      }
      std::shared_ptr<Request> request = std::move(read).value();
      const jina::DataRequestProto& proto = *request->proto;
      dispatcher_->Dispatch(
          proto, [bytes] { return BufferBytes(*bytes); },
          [this, context, reactor, request = std::move(request), response]() mutable {
            Serve(context, reactor, std::move(request), response);
          },
          [context, reactor, response](StatusOr<WriteAnswer> answer) {
            if (!answer.ok()) {
              reactor->Finish(rpc::ToGrpc(answer.status(), *context));
              return;
            }
            if (answer->executor_failed) context->AddTrailingMetadata("is-error", "true");
            *response = BufferOf(std::move(answer->bytes));
            reactor->Finish(grpc::Status::OK);
          });
      return reactor;
    }

    // process_single_data without gRPC (ReplicaServer::CallDirect).
    void Direct(const grpc::ByteBuffer& bytes, std::chrono::system_clock::time_point deadline,
                ReplicaRuntime::Cancelled gone, const std::atomic<bool>* abandoned,
                DirectDone done) {
      StatusOr<std::shared_ptr<Request>> read =
          ReadRequest<jina::DataRequestProto>(bytes, max_docs_, kSingleRpc);
      if (!read.ok()) {
        done({.status = read.status()});
        return;
      }
      if (Status room = runtime_->CheckRoom(); !room.ok()) {
        done({.status = std::move(room)});
        return;
      }
      std::shared_ptr<Request> request = std::move(read).value();
      jina::DataRequestProto* proto = request->proto;
      const std::string_view endpoint = proto->header().exec_endpoint();
      // What the Executor reads as request_cancelled(), as for a gRPC call (CallerGone).
      Direction direction{.deadline = deadline,
                          .gone = gone,
                          .abandoned = abandoned,
                          .cancelled = [gone, deadline, abandoned] {
                            return gone() || abandoned->load() ||
                                   deadline <= std::chrono::system_clock::now();
                          }};
      // Called by the work below, or when the replica does not take it.
      AlwaysCalled<DirectAnswer> answer(std::move(done), &NotTaken);
      if (batcher_ != nullptr && batcher_->Batches(endpoint)) {
        // Either the batch's answer or the refusal calls it.
        auto shared = std::make_shared<AlwaysCalled<DirectAnswer>>(std::move(answer));
        const bool queued = SubmitToBatch(
            batcher_, deadline, proto, request, direction.cancelled,
            [shared, request,
             in_flight = InFlight(runtime_->in_flight())](StatusOr<bool> executor_failed) {
              (*shared)(Reply(*request->proto, executor_failed));
            },
            [shared](const Status& refused) { (*shared)({.status = refused}); });
        if (queued) return;
        // A request without documents runs alone.
        PostDirect(std::move(request), std::move(direction),
                   AlwaysCalled<DirectAnswer>(
                       [shared](DirectAnswer reply) { (*shared)(std::move(reply)); }, &NotTaken));
        return;
      }
      PostDirect(std::move(request), std::move(direction), std::move(answer));
    }

   private:
    // How a direct call is to be treated while it waits and runs.
    struct Direction {
      std::chrono::system_clock::time_point deadline;
      ReplicaRuntime::Cancelled gone;       // the caller gave up
      const std::atomic<bool>* abandoned;   // the replica's shutdown gave up on it
      ReplicaRuntime::Cancelled cancelled;  // any of the above, or the deadline passed
    };

    static DirectAnswer NotTaken() {
      return {.status = absl::UnavailableError(
                  "the replica did not take the request (it is shutting down, or its queue "
                  "filled meanwhile)")};
    }

    void PostDirect(std::shared_ptr<Request> request, Direction direction,
                    AlwaysCalled<DirectAnswer> answer) {
      // A view into the request, which the task below owns: PostRequest reads it first.
      const std::string_view endpoint = request->proto->header().exec_endpoint();
      runtime_
          ->PostRequest(
              [this, request = std::move(request), direction = std::move(direction),
               answer = std::move(answer), arrived = ReplicaRuntime::Clock::now(),
               in_flight = InFlight(runtime_->in_flight())]() mutable {
                if (direction.abandoned->load()) {
                  runtime_->CountDropped();
                  answer({.status = absl::UnavailableError(
                              "the replica is shutting down: its grace ran out before this "
                              "request ran")});
                  return;
                }
                if (Status run = BeforeRunning(*runtime_, direction.gone(), *request->proto,
                                               direction.deadline);
                    !run.ok()) {
                  answer({.status = std::move(run)});
                  return;
                }
                StatusOr<bool> executor_failed =
                    runtime_->Process(*request->proto, arrived, request, direction.cancelled);
                answer(Reply(*request->proto, executor_failed));
              },
              endpoint)
          .IgnoreError();  // a task not posted is dropped, and `answer` with it
    }

    static DirectAnswer Reply(const jina::DataRequestProto& request,
                              const StatusOr<bool>& executor_failed) {
      if (!executor_failed.ok()) return {.status = executor_failed.status()};
      DirectAnswer answer{.executor_failed = *executor_failed};
      answer.status = SerializeAnswer(request, answer.response);
      return answer;
    }

    // Runs the Executor on the request (on the executor thread) and answers with it.
    void Serve(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
               std::shared_ptr<Request> request, grpc::ByteBuffer* response) {
      jina::DataRequestProto* proto = request->proto;
      if (SubmitToBatch(
              batcher_, context->deadline(), proto, request, CallerGone(context),
              [context, reactor, response, proto,
               in_flight = InFlight(runtime_->in_flight())](StatusOr<bool> executor_failed) {
                if (!executor_failed.ok()) {
                  reactor->Finish(rpc::ToGrpc(executor_failed.status()));
                  return;
                }
                if (*executor_failed) context->AddTrailingMetadata("is-error", "true");
                FinishWith(reactor, *proto, response);
              },
              [reactor](const Status& refused) { reactor->Finish(rpc::ToGrpc(refused)); })) {
        return;
      }
      // A view into the request, which the task below owns: PostRequest reads it first.
      const std::string_view endpoint = request->proto->header().exec_endpoint();
      Status posted = runtime_->PostRequest(
          [this, context, reactor, request = std::move(request), response,
           arrived = ReplicaRuntime::Clock::now(), in_flight = InFlight(runtime_->in_flight())] {
            // The client gave up, its deadline passed, or the drain's grace ran out while the
            // request waited: the Executor does not run it.
            if (Status run = BeforeRunning(*runtime_, context->IsCancelled(), *request->proto,
                                           context->deadline());
                !run.ok()) {
              reactor->Finish(rpc::ToGrpc(run));
              return;
            }
            StatusOr<bool> executor_failed =
                runtime_->Process(*request->proto, arrived, request, CallerGone(context));
            if (!executor_failed.ok()) {
              reactor->Finish(rpc::ToGrpc(executor_failed.status()));
              return;
            }
            if (*executor_failed) context->AddTrailingMetadata("is-error", "true");
            FinishWith(reactor, *request->proto, response);
          },
          endpoint);
      if (!posted.ok()) reactor->Finish(rpc::ToGrpc(posted));
    }

    ReplicaRuntime* const runtime_;
    const Dispatcher* const dispatcher_;
    Batcher* const batcher_;  // null when no endpoint is batched
    const int64_t max_docs_;
    const std::string token_;
  };

  // process_data: the parts of a join (no_reduce) reach the Executor together, as parts, so a
  // batched endpoint runs such a request alone, unbatched.
  class Data : public rpc::DataBase {
   public:
    Data(ReplicaRuntime* runtime, const Dispatcher* dispatcher, int64_t max_docs, std::string token)
        : runtime_(runtime),
          dispatcher_(dispatcher),
          max_docs_(max_docs),
          token_(std::move(token)) {}
    grpc::ServerUnaryReactor* process_data(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* bytes,
                                           grpc::ByteBuffer* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      if (!rpc::Admit(context, reactor, token_)) return reactor;
      StatusOr<std::shared_ptr<ArenaMessage<jina::DataRequestListProto>>> read =
          ReadRequest<jina::DataRequestListProto>(*bytes, max_docs_, kDataRpc);
      if (!read.ok()) {
        reactor->Finish(rpc::ToGrpc(read.status()));
        return reactor;
      }
      std::shared_ptr<ArenaMessage<jina::DataRequestListProto>> parts = std::move(read).value();
      if (parts->proto->requests_size() > 0 &&
          dispatcher_->Replicates(parts->proto->requests(0).header().exec_endpoint())) {
        reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                     "a stateful replica takes writes one request at a time "
                                     "(process_single_data or Call), not as process_data parts"));
        return reactor;
      }
      Status posted = runtime_->PostRequest([this, context, reactor, parts = std::move(parts),
                                             response, arrived = ReplicaRuntime::Clock::now(),
                                             in_flight = InFlight(runtime_->in_flight())] {
        if (Status run = BeforeRunning(*runtime_, context->IsCancelled(),
                                       parts->proto->requests_size() > 0
                                           ? parts->proto->requests(0)
                                           : jina::DataRequestProto::default_instance(),
                                       context->deadline());
            !run.ok()) {
          reactor->Finish(rpc::ToGrpc(run));
          return;
        }
        auto* answer =
            google::protobuf::Arena::CreateMessage<jina::DataRequestProto>(&parts->arena);
        StatusOr<bool> executor_failed =
            runtime_->ProcessParts(*parts->proto, *answer, arrived, parts, CallerGone(context));
        if (!executor_failed.ok()) {
          reactor->Finish(rpc::ToGrpc(executor_failed.status()));
          return;
        }
        if (*executor_failed) context->AddTrailingMetadata("is-error", "true");
        FinishWith(reactor, *answer, response);
      });
      if (!posted.ok()) reactor->Finish(rpc::ToGrpc(posted));
      return reactor;
    }

   private:
    ReplicaRuntime* const runtime_;
    const Dispatcher* const dispatcher_;
    const int64_t max_docs_;
    const std::string token_;
  };

  const Dispatcher dispatcher_;       // first: the services below borrow it
  std::unique_ptr<Batcher> batcher_;  // null when no endpoint is batched
  Single single_;
  Data data_;
  rpc::StreamService call_;
  rpc::BatchStreamService batch_call_;  // from a Shoal gateway or Deployment
  rpc::DiscoveryService discovery_;
  rpc::InfoService info_;
  StreamDocService stream_doc_;
  std::unique_ptr<MembershipService> membership_;  // stateful replicas only
};

StatusOr<std::unique_ptr<ReplicaServer>> ReplicaServer::Start(
    std::unique_ptr<ReplicaRuntime> runtime, const Options& options,
    std::unique_ptr<StatefulReplica> stateful) {
  std::unique_ptr<ReplicaServer> server(new ReplicaServer());
  server->runtime_ = std::move(runtime);
  server->stateful_ = std::move(stateful);
  server->max_receive_message_bytes_ = options.max_receive_message_bytes;
  server->max_send_message_bytes_ = options.max_send_message_bytes;
  server->services_ = std::make_unique<Services>(server->runtime_.get(), server->stateful_.get(),
                                                 options.max_docs_per_request, options.auth_token,
                                                 options.batching);
  StatusOr<std::unique_ptr<grpc::Server>> started = rpc::StartServer(
      {.host = options.host,
       .port = options.port,
       .max_receive_message_bytes = options.max_receive_message_bytes,
       .max_send_message_bytes = options.max_send_message_bytes,
       .max_memory_bytes = options.max_memory_bytes,
       .tls = options.tls,
       .reflection = options.reflection},
      [&](grpc::ServerBuilder& builder) { server->services_->Register(builder); },
      Services::Names(), &server->port_);
  if (!started.ok()) return started.status();
  server->server_ = std::move(started).value();
  return server;
}

void ReplicaServer::CallDirect(const grpc::ByteBuffer& request,
                               std::chrono::system_clock::time_point deadline,
                               std::function<bool()> gone, DirectDone done) {
  if (stateful_ != nullptr) {
    done({.status = absl::FailedPreconditionError(
              "a stateful replica takes requests over gRPC only (writes go through its log)")});
    return;
  }
  if (max_receive_message_bytes_ >= 0 &&
      request.Length() > static_cast<size_t>(max_receive_message_bytes_)) {
    done({.status = absl::ResourceExhaustedError(
              absl::StrCat("the request has ", request.Length(),
                           " bytes, more than the replica takes (grpc.max_receive_message_length: ",
                           max_receive_message_bytes_, ")"))});
    return;
  }
  bool closed = false;
  {
    absl::MutexLock lock(&direct_mu_);
    closed = direct_closed_;
    if (!closed) ++direct_calls_;
  }
  if (closed) {
    done({.status = absl::UnavailableError("the replica is shutting down")});
    return;
  }
  services_->Direct(request, deadline, std::move(gone), &direct_abandoned_,
                    [this, done = std::move(done)](DirectAnswer answer) mutable {
                      if (answer.status.ok() && max_send_message_bytes_ >= 0 &&
                          answer.response.Length() > static_cast<size_t>(max_send_message_bytes_)) {
                        answer = {.status = absl::ResourceExhaustedError(
                                      absl::StrCat("the answer has ", answer.response.Length(),
                                                   " bytes, more than the replica sends "
                                                   "(grpc.max_send_message_length: ",
                                                   max_send_message_bytes_, ")"))};
                      }
                      done(std::move(answer));
                      absl::MutexLock lock(&direct_mu_);
                      --direct_calls_;
                    });
}

ReplicaServer::~ReplicaServer() { Shutdown(absl::Seconds(5)); }

void ReplicaServer::Shutdown(absl::Duration grace) {
  if (stopped_.exchange(true)) return;
  const absl::Time deadline = absl::Now() + grace;
  {
    absl::MutexLock lock(&direct_mu_);
    direct_closed_ = true;
  }
  if (services_ != nullptr) services_->Drain();
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->Shutdown();
    server_->Shutdown(absl::ToChronoTime(deadline));
  }
  {
    // Direct calls hold this server and their callers' routers: every one is answered before
    // the Executor closes and before Shutdown returns. Past the grace the queued ones are
    // answered unrun; the running one is waited for, as the executor thread's join would.
    absl::MutexLock lock(&direct_mu_);
    auto drained = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(direct_mu_) { return direct_calls_ == 0; };
    if (!direct_mu_.AwaitWithDeadline(absl::Condition(&drained), deadline)) {
      direct_abandoned_.store(true);
      direct_mu_.Await(absl::Condition(&drained));
    }
  }
  // The log stops applying before the Executor closes.
  stateful_.reset();
  // Every call has finished or been cancelled; what is still queued runs, then Close().
  runtime_->Post([runtime = runtime_.get()] { runtime->Close(); });
}

}  // namespace shoal::replica
