// The fake Jina server: callback-API services that echo requests, with a timer thread for
// delayed and held responses.
#include "tests/testing/fake_jina_server.h"

#include <pthread.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "jina.grpc.pb.h"
#include "src/rpc/leader.h"

namespace shoal::testing {
namespace {

using jina::DataRequestProto;

// Marks (in a grpc::Status's details) a NotTheLeader() answer, followed by the leader's address.
constexpr char kNotLeaderMark[] = "fake-not-the-leader:";

// Runs functions at given times on one thread named "fake-timer". Thread-safe. Functions still
// queued at destruction run then, so that no response is lost.
class Timer {
 public:
  Timer() : thread_([this] { Run(); }) {
    pthread_setname_np(thread_.native_handle(), "fake-timer");
  }
  ~Timer() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  void At(absl::Time when, std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    queue_.emplace(when, std::move(fn));
    changed_ = true;
  }

 private:
  void Run() {
    while (true) {
      std::vector<std::function<void()>> due;
      bool stop;
      {
        absl::MutexLock lock(&mu_);
        changed_ = false;
        absl::Time deadline = queue_.empty() ? absl::InfiniteFuture() : queue_.begin()->first;
        auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return changed_ || stop_; };
        mu_.AwaitWithDeadline(absl::Condition(&woken), deadline);
        stop = stop_;
        absl::Time now = absl::Now();
        while (!queue_.empty() && (stop || queue_.begin()->first <= now)) {
          due.push_back(std::move(queue_.begin()->second));
          queue_.erase(queue_.begin());
        }
      }
      for (auto& fn : due) fn();
      if (stop) return;
    }
  }

  absl::Mutex mu_;
  std::multimap<absl::Time, std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

class FakeJinaServer::Impl final : public jina::JinaRPC::CallbackService,
                                   public jina::JinaSingleDataRequestRPC::CallbackService,
                                   public jina::JinaDataRequestRPC::CallbackService,
                                   public jina::JinaDiscoverEndpointsRPC::CallbackService {
 public:
  // The server's view of one call: records it and says whether it is to fail.
  bool BeginCall(const grpc::CallbackServerContext* context) {
    Metadata metadata;
    for (const auto& [key, value] : context->client_metadata()) {
      metadata.emplace(std::string(key.data(), key.size()),
                       std::string(value.data(), value.size()));
    }
    absl::MutexLock lock(&mu_);
    ++calls_;
    metadata_.push_back(std::move(metadata));
    if (fail_next_ > 0) {
      --fail_next_;
      return false;
    }
    return true;
  }

  // Records `request` and returns the response to it: an echo, or an Executor error.
  DataRequestProto Answer(const DataRequestProto& request, bool* is_error) {
    DataRequestProto response = request;
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    *is_error = !error_name_.empty() && (!error_filter_ || error_filter_(request));
    jina::StatusProto* status = response.mutable_header()->mutable_status();
    if (*is_error) {
      status->set_code(jina::StatusProto::ERROR);
      status->set_description(error_description_);
      status->mutable_exception()->set_name(error_name_);
    } else {
      status->set_code(jina::StatusProto::SUCCESS);
    }
    return response;
  }

  // Runs `send` after the configured delay or hold; counts the request as unanswered until then.
  void Schedule(const DataRequestProto& request, std::function<void()> send) {
    absl::Duration delay;
    bool held = false;
    std::vector<std::function<void()>> release;
    auto counted = [this, send = std::move(send)]() {
      {
        absl::MutexLock lock(&mu_);
        --concurrent_;
      }
      send();
    };
    {
      absl::MutexLock lock(&mu_);
      ++concurrent_;
      max_concurrent_ = std::max(max_concurrent_, concurrent_);
      delay = delay_ ? delay_(request) : absl::ZeroDuration();
      if (hold_until_ > 0) {
        held = true;
        held_.push_back(std::move(counted));
        if (static_cast<int>(held_.size()) >= hold_until_) release.swap(held_);
      }
    }
    if (!held) timer_.At(absl::Now() + delay, std::move(counted));
    for (auto& fn : release) timer_.At(absl::Now(), std::move(fn));
  }

  void ReleaseHeld() {
    std::vector<std::function<void()>> release;
    {
      absl::MutexLock lock(&mu_);
      release.swap(held_);
    }
    for (auto& fn : release) timer_.At(absl::Now(), std::move(fn));
  }

  grpc::ServerBidiReactor<DataRequestProto, DataRequestProto>* Call(
      grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* process_single_data(grpc::CallbackServerContext* context,
                                                const DataRequestProto* request,
                                                DataRequestProto* response) override {
    return Unary(context, *request, response);
  }

  // The parts' docs, in order, in the first part: the answer of an Executor that concatenates.
  grpc::ServerUnaryReactor* process_data(grpc::CallbackServerContext* context,
                                         const jina::DataRequestListProto* request,
                                         DataRequestProto* response) override {
    DataRequestProto joined;
    for (int i = 0; i < request->requests_size(); ++i) {
      if (i == 0) {
        joined = request->requests(0);
        continue;
      }
      for (const auto& doc : request->requests(i).data().docs().docs()) {
        *joined.mutable_data()->mutable_docs()->add_docs() = doc;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      part_counts_.push_back(request->requests_size());
    }
    return Unary(context, joined, response);
  }

  grpc::ServerUnaryReactor* endpoint_discovery(grpc::CallbackServerContext* context,
                                               const google::protobuf::Empty* /*request*/,
                                               jina::EndpointsProto* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::MutexLock lock(&mu_);
    if (!endpoints_.has_value()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "fake: no endpoints set"));
      return reactor;
    }
    for (const std::string& e : *endpoints_) response->add_endpoints(e);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // One unary data call: counted, answered (echo, Executor error, scripted answer), sent after
  // the configured delay or hold.
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                  const DataRequestProto& request, DataRequestProto* response) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (!BeginCall(context)) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: unavailable"));
      return reactor;
    }
    bool is_error = false;
    *response = Answer(request, &is_error);
    AnswerFn answer;
    {
      absl::MutexLock lock(&mu_);
      answer = answer_;
    }
    grpc::Status status = answer ? answer(request, response) : grpc::Status::OK;
    if (status.ok() && is_error) context->AddTrailingMetadata("is-error", "true");
    if (absl::StartsWith(status.error_details(), kNotLeaderMark)) {
      // As a Shoal follower refuses: the typed signal, with the leader's address (maybe "").
      context->AddTrailingMetadata(rpc::kLeaderKey,
                                   status.error_details().substr(sizeof(kNotLeaderMark) - 1));
      status = grpc::Status(status.error_code(), status.error_message());
    }
    Schedule(request, [reactor, status] { reactor->Finish(status); });
    return reactor;
  }

  Timer timer_;  // declared before the server so that it outlives it
  std::unique_ptr<grpc::Server> server_;

  mutable absl::Mutex mu_;
  std::string error_name_ ABSL_GUARDED_BY(mu_);
  std::string error_description_ ABSL_GUARDED_BY(mu_);
  std::function<bool(const DataRequestProto&)> error_filter_ ABSL_GUARDED_BY(mu_);
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  DelayFn delay_ ABSL_GUARDED_BY(mu_);
  int hold_until_ ABSL_GUARDED_BY(mu_) = 0;
  AnswerFn answer_ ABSL_GUARDED_BY(mu_);
  std::optional<std::vector<std::string>> endpoints_ ABSL_GUARDED_BY(mu_);
  std::vector<int> part_counts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<DataRequestProto> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<Metadata> metadata_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int concurrent_ ABSL_GUARDED_BY(mu_) = 0;
  int max_concurrent_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace {

// A stream that fails at once.
class FailedCall final : public grpc::ServerBidiReactor<DataRequestProto, DataRequestProto> {
 public:
  FailedCall() { Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: unavailable")); }
  void OnDone() override { delete this; }
};

// One Call stream: reads requests as fast as they come, answers each after its delay, writes
// answers one at a time, finishes once the input ended and everything is answered. Reactions
// run on gRPC threads and the timer thread; deletes itself in OnDone.
class EchoCall final : public grpc::ServerBidiReactor<DataRequestProto, DataRequestProto> {
 public:
  explicit EchoCall(FakeJinaServer::Impl* server) : server_(server) { StartRead(&incoming_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        absl::MutexLock lock(&mu_);
        reads_done_ = true;
      }
      server_->ReleaseHeld();
      MaybeFinish();
      return;
    }
    bool is_error = false;
    DataRequestProto response = server_->Answer(incoming_, &is_error);
    {
      absl::MutexLock lock(&mu_);
      ++unanswered_;
    }
    server_->Schedule(incoming_, [this, response = std::move(response)]() { Send(response); });
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    const DataRequestProto* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      outgoing_.pop_front();
      if (outgoing_.empty()) {
        writing_ = false;
      } else {
        next = &outgoing_.front();
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else {
      MaybeFinish();
    }
  }

  void OnDone() override { delete this; }

 private:
  void Send(const DataRequestProto& response) {
    const DataRequestProto* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      --unanswered_;
      outgoing_.push_back(response);
      if (!writing_) {
        writing_ = true;
        start = &outgoing_.front();
      }
    }
    if (start != nullptr) StartWrite(start);
  }

  void MaybeFinish() {
    {
      absl::MutexLock lock(&mu_);
      if (!reads_done_ || unanswered_ > 0 || writing_ || finished_) return;
      finished_ = true;
    }
    Finish(grpc::Status::OK);
  }

  FakeJinaServer::Impl* const server_;
  DataRequestProto incoming_;  // read reactions only
  absl::Mutex mu_;
  std::deque<DataRequestProto> outgoing_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  int unanswered_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

grpc::ServerBidiReactor<DataRequestProto, DataRequestProto>* FakeJinaServer::Impl::Call(
    grpc::CallbackServerContext* context) {
  if (!BeginCall(context)) return new FailedCall();
  return new EchoCall(this);
}

StatusOr<std::unique_ptr<FakeJinaServer>> FakeJinaServer::Start() {
  auto impl = std::make_unique<Impl>();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(-1);
  builder.RegisterService(static_cast<jina::JinaRPC::CallbackService*>(impl.get()));
  builder.RegisterService(
      static_cast<jina::JinaSingleDataRequestRPC::CallbackService*>(impl.get()));
  builder.RegisterService(static_cast<jina::JinaDataRequestRPC::CallbackService*>(impl.get()));
  builder.RegisterService(
      static_cast<jina::JinaDiscoverEndpointsRPC::CallbackService*>(impl.get()));
  impl->server_ = builder.BuildAndStart();
  if (impl->server_ == nullptr || port == 0) {
    return absl::UnavailableError("fake Jina server: cannot listen on 127.0.0.1");
  }
  return std::unique_ptr<FakeJinaServer>(new FakeJinaServer(std::move(impl), port));
}

FakeJinaServer::FakeJinaServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

FakeJinaServer::~FakeJinaServer() {
  impl_->ReleaseHeld();
  impl_->server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

std::string FakeJinaServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void FakeJinaServer::SetExecutorError(std::string name, std::string description) {
  absl::MutexLock lock(&impl_->mu_);
  impl_->error_name_ = std::move(name);
  impl_->error_description_ = std::move(description);
}

void FakeJinaServer::SetErrorFilter(std::function<bool(const jina::DataRequestProto&)> pred) {
  absl::MutexLock lock(&impl_->mu_);
  impl_->error_filter_ = std::move(pred);
}

void FakeJinaServer::FailNextCalls(int n) {
  absl::MutexLock lock(&impl_->mu_);
  impl_->fail_next_ = n;
}

void FakeJinaServer::SetDelay(DelayFn delay) {
  absl::MutexLock lock(&impl_->mu_);
  impl_->delay_ = std::move(delay);
}

void FakeJinaServer::SetHoldUntil(int n) {
  absl::MutexLock lock(&impl_->mu_);
  impl_->hold_until_ = n;
}

grpc::Status FakeJinaServer::NotTheLeader(const std::string& leader) {
  // The details carry the mark that Unary() turns into the kLeaderKey trailing metadata.
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      leader.empty() ? std::string("not the leader; no leader is known")
                                     : absl::StrCat("not the leader; the leader is at ", leader),
                      absl::StrCat(kNotLeaderMark, leader));
}

void FakeJinaServer::SetAnswer(AnswerFn answer) {
  absl::MutexLock lock(&impl_->mu_);
  impl_->answer_ = std::move(answer);
}

void FakeJinaServer::SetEndpoints(std::vector<std::string> endpoints) {
  absl::MutexLock lock(&impl_->mu_);
  impl_->endpoints_ = std::move(endpoints);
}

std::vector<int> FakeJinaServer::part_counts() const {
  absl::MutexLock lock(&impl_->mu_);
  return impl_->part_counts_;
}

void FakeJinaServer::SetServing(bool serving) {
  impl_->server_->GetHealthCheckService()->SetServingStatus(serving);
}

std::vector<jina::DataRequestProto> FakeJinaServer::requests() const {
  absl::MutexLock lock(&impl_->mu_);
  return impl_->requests_;
}

std::vector<FakeJinaServer::Metadata> FakeJinaServer::call_metadata() const {
  absl::MutexLock lock(&impl_->mu_);
  return impl_->metadata_;
}

int FakeJinaServer::calls() const {
  absl::MutexLock lock(&impl_->mu_);
  return impl_->calls_;
}

int FakeJinaServer::max_concurrent() const {
  absl::MutexLock lock(&impl_->mu_);
  return impl_->max_concurrent_;
}

}  // namespace shoal::testing
