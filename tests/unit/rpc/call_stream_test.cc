// rpc::CallStream in process: a JinaRPC/Call server on 127.0.0.1 whose streams hand every
// message to a test handler that echoes it, fails it or holds it until the test releases it.
#include "src/rpc/call_stream.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jina.grpc.pb.h"
#include "shoal/v1/batch.grpc.pb.h"
#include "src/rpc/auth.h"
#include "src/rpc/jina_services.h"
#include "tests/testing/wait.h"

namespace shoal::rpc {
namespace {

using ::shoal::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::atomic<int> live_streams{0};

class TestStream;

// What the streams do with a message, by its request id: "fail..." ends the stream with an
// error, "hold..." waits for Release, anything else is echoed at once.
class Handler {
 public:
  struct Held {
    TestStream* stream;
    uint64_t sequence;
    grpc::ByteBuffer request;
  };

  void Take(TestStream* stream, uint64_t sequence, grpc::ByteBuffer request);

  int handled() const {
    absl::MutexLock lock(&mu_);
    return handled_;
  }
  size_t held() const {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }
  // Answers the held message number `index` (in request order).
  void Release(size_t index);
  // Answers every held message, and every later one at once.
  void ReleaseAll();
  // Whether the stream of the held message `index` saw the cancel.
  bool HeldWasCancelled(size_t index) const;

 private:
  mutable absl::Mutex mu_;
  int handled_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<std::optional<Held>> held_ ABSL_GUARDED_BY(mu_);
};

class TestStream : public CallStream {
 public:
  TestStream(grpc::CallbackServerContext* context, const Options& options, Handler* handler)
      : CallStream(context, options), handler_(handler) {
    ++live_streams;
  }
  ~TestStream() override { --live_streams; }

  using CallStream::cancelled;
  using CallStream::Complete;

 private:
  void Handle(uint64_t sequence, grpc::ByteBuffer request) override {
    handler_->Take(this, sequence, std::move(request));
  }

  Handler* const handler_;
};

std::string RequestId(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  jina::DataRequestProto request;
  if (!request.ParseFromString(bytes)) return "";
  return request.header().request_id();
}

void Handler::Take(TestStream* stream, uint64_t sequence, grpc::ByteBuffer request) {
  const std::string id = RequestId(request);
  {
    absl::MutexLock lock(&mu_);
    ++handled_;
    if (hold_ && absl::StartsWith(id, "hold")) {
      // In request order: Handle runs after the next read started, so two messages may be
      // handled on two threads at once, the later one first.
      auto later = std::find_if(held_.begin(), held_.end(), [&](const std::optional<Held>& h) {
        return h.has_value() && h->sequence > sequence;
      });
      held_.insert(later, Held{stream, sequence, std::move(request)});
      return;
    }
  }
  if (absl::StartsWith(id, "fail")) {
    stream->Complete(sequence, absl::InvalidArgumentError("message " + id + " is broken"));
  } else {
    stream->Complete(sequence, std::move(request));
  }
}

void Handler::Release(size_t index) {
  std::optional<Held> held;
  {
    absl::MutexLock lock(&mu_);
    ASSERT_LT(index, held_.size());
    ASSERT_TRUE(held_[index].has_value()) << "released twice: " << index;
    held = std::move(held_[index]);
    held_[index].reset();
  }
  held->stream->Complete(held->sequence, std::move(held->request));
}

void Handler::ReleaseAll() {
  size_t n;
  {
    absl::MutexLock lock(&mu_);
    hold_ = false;
    n = held_.size();
  }
  for (size_t i = 0; i < n; ++i) {
    bool pending;
    {
      absl::MutexLock lock(&mu_);
      pending = held_[i].has_value();
    }
    if (pending) Release(i);
  }
}

bool Handler::HeldWasCancelled(size_t index) const {
  absl::MutexLock lock(&mu_);
  return index < held_.size() && held_[index].has_value() && held_[index]->stream->cancelled();
}

jina::DataRequestProto Request(const std::string& id) {
  jina::DataRequestProto request;
  request.mutable_header()->set_request_id(id);
  return request;
}

class CallStreamTest : public ::testing::Test {
 protected:
  void Start(CallStream::Options options, std::string token = "") {
    service_ = std::make_unique<StreamService>(
        token, [this, options](grpc::CallbackServerContext* context) {
          return new TestStream(context, options, &handler_);
        });
    CallStream::Options batched = options;
    batched.batched = true;
    batch_service_ = std::make_unique<BatchStreamService>(
        std::move(token), [this, batched](grpc::CallbackServerContext* context) {
          return new TestStream(context, batched, &handler_);
        });
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    builder.RegisterService(batch_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                       grpc::InsecureChannelCredentials());
    stub_ = jina::JinaRPC::NewStub(channel);
    batch_stub_ = shoal::v1::DataBatchRPC::NewStub(channel);
  }

  void TearDown() override {
    handler_.ReleaseAll();
    if (server_ != nullptr) server_->Shutdown();
    EXPECT_TRUE(WaitFor([] { return live_streams.load() == 0; })) << "a stream was not deleted";
  }

  // Reads every answer's request id, then the stream's status.
  static std::vector<std::string> ReadAll(
      grpc::ClientReaderWriter<jina::DataRequestProto, jina::DataRequestProto>& stream,
      grpc::Status* status) {
    std::vector<std::string> ids;
    jina::DataRequestProto answer;
    while (stream.Read(&answer)) ids.push_back(answer.header().request_id());
    *status = stream.Finish();
    return ids;
  }

  // Reads every answer of every batch: their request ids, then the stream's status.
  static std::vector<std::string> ReadAllBatches(
      grpc::ClientReaderWriter<shoal::v1::DataRequestBatch, shoal::v1::DataRequestBatch>& stream,
      grpc::Status* status) {
    std::vector<std::string> ids;
    shoal::v1::DataRequestBatch batch;
    while (stream.Read(&batch)) {
      for (const std::string& message : batch.messages()) {
        jina::DataRequestProto answer;
        EXPECT_TRUE(answer.ParseFromString(message));
        ids.push_back(answer.header().request_id());
      }
    }
    *status = stream.Finish();
    return ids;
  }

  Handler handler_;
  std::unique_ptr<StreamService> service_;
  std::unique_ptr<BatchStreamService> batch_service_;
  std::unique_ptr<shoal::v1::DataBatchRPC::Stub> batch_stub_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<jina::JinaRPC::Stub> stub_;
  int port_ = 0;
};

TEST_F(CallStreamTest, AnswersEveryMessage) {
  Start({});
  grpc::ClientContext context;
  auto stream = stub_->Call(&context);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(stream->Write(Request(absl::StrCat("r", i))));
  stream->WritesDone();
  grpc::Status status;
  std::vector<std::string> ids = ReadAll(*stream, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ids.size(), 100u);
}

// Three held messages released last to first.
std::vector<std::string> ReleasedInReverse(jina::JinaRPC::Stub& stub, Handler& handler,
                                           grpc::Status* status) {
  grpc::ClientContext context;
  auto stream = stub.Call(&context);
  for (const char* id : {"hold1", "hold2", "hold3"}) EXPECT_TRUE(stream->Write(Request(id)));
  stream->WritesDone();
  EXPECT_TRUE(WaitFor([&] { return handler.held() == 3; }));
  for (size_t i : {2, 1, 0}) handler.Release(i);
  std::vector<std::string> ids;
  jina::DataRequestProto answer;
  while (stream->Read(&answer)) ids.push_back(answer.header().request_id());
  *status = stream->Finish();
  return ids;
}

TEST_F(CallStreamTest, WritesAnswersAsTheyComplete) {
  Start({});
  grpc::Status status;
  EXPECT_THAT(ReleasedInReverse(*stub_, handler_, &status), ElementsAre("hold3", "hold2", "hold1"));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(CallStreamTest, WritesAnswersInRequestOrderWhenAsked) {
  Start({.in_order = true});
  grpc::Status status;
  EXPECT_THAT(ReleasedInReverse(*stub_, handler_, &status), ElementsAre("hold1", "hold2", "hold3"));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// "hold1" (answered after "fail2" failed), then "fail2": the stream ends with fail2's error once
// hold1's answer is out.
void ExpectFailureAfterEarlierAnswers(jina::JinaRPC::Stub& stub, Handler& handler) {
  grpc::ClientContext context;
  auto stream = stub.Call(&context);
  ASSERT_TRUE(stream->Write(Request("hold1")));
  ASSERT_TRUE(WaitFor([&] { return handler.held() == 1; }));
  ASSERT_TRUE(stream->Write(Request("fail2")));
  ASSERT_TRUE(WaitFor([&] { return handler.handled() == 2; }));
  handler.Release(0);
  std::vector<std::string> ids;
  jina::DataRequestProto answer;
  while (stream->Read(&answer)) ids.push_back(answer.header().request_id());
  grpc::Status status = stream->Finish();
  EXPECT_THAT(ids, ElementsAre("hold1"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("message fail2 is broken"));
}

TEST_F(CallStreamTest, AFailedMessageEndsTheStreamAfterTheEarlierAnswers) {
  Start({});
  ExpectFailureAfterEarlierAnswers(*stub_, handler_);
}

TEST_F(CallStreamTest, AFailedMessageEndsAnInOrderStreamAfterTheEarlierAnswers) {
  Start({.in_order = true});
  ExpectFailureAfterEarlierAnswers(*stub_, handler_);
}

TEST_F(CallStreamTest, StopsReadingWhileMaxHeldAnswersAreInFlight) {
  Start({.max_held = 4});
  grpc::ClientContext context;
  auto stream = stub_->Call(&context);
  constexpr int kMessages = 20;  // small: the transport takes them all without blocking
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(stream->Write(Request(absl::StrCat("hold", i))));
  }
  ASSERT_TRUE(WaitFor([&] { return handler_.held() >= 4; }));
  absl::SleepFor(absl::Milliseconds(300));  // time to read more, had reading not stopped
  EXPECT_EQ(handler_.handled(), 4);
  handler_.Release(0);  // one answer out: one more message is read
  EXPECT_TRUE(WaitFor([&] { return handler_.handled() == 5; }));
  handler_.ReleaseAll();
  stream->WritesDone();
  grpc::Status status;
  EXPECT_EQ(ReadAll(*stream, &status).size(), static_cast<size_t>(kMessages));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// Writes up to `max_writes` copies of `request` on a Call stream without reading any answer;
// returns how many writes completed before one stayed blocked for 3 s.
int WritesAcceptedWithoutReading(int port, const std::string& request, int max_writes) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  grpc::GenericStub generic(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                      grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  auto stream = generic.PrepareCall(&context, "/jina.JinaRPC/Call", &cq);
  void* tag = nullptr;
  bool ok = false;
  stream->StartCall(reinterpret_cast<void*>(1));
  int accepted = -1;
  if (cq.Next(&tag, &ok) && ok) {
    accepted = 0;
    grpc::Slice slice(request);
    grpc::ByteBuffer message(&slice, 1);
    while (accepted < max_writes) {
      stream->Write(message, reinterpret_cast<void*>(2));
      auto status =
          cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::seconds(3));
      if (status != grpc::CompletionQueue::GOT_EVENT || !ok) break;  // blocked, or failed
      ++accepted;
    }
  }
  context.TryCancel();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return accepted;
}

TEST_F(CallStreamTest, AClientThatDoesNotReadHasItsWritesBlocked) {
  Start({.max_held = 4});
  jina::DataRequestProto request = Request("echo");
  (*request.mutable_parameters()->mutable_fields())["pad"].set_string_value(
      std::string(1 << 20, 'x'));
  // 150 answers of 1 MB: without flow control the stream reads and holds every one.
  const int accepted = WritesAcceptedWithoutReading(port_, request.SerializeAsString(), 150);
  EXPECT_GE(accepted, 4);   // max_held were read
  EXPECT_LT(accepted, 80);  // then reading stopped, besides what the transport buffers
}

TEST_F(CallStreamTest, ACancelledStreamSeesItAndIsDeleted) {
  Start({});
  grpc::ClientContext context;
  auto stream = stub_->Call(&context);
  ASSERT_TRUE(stream->Write(Request("hold1")));
  ASSERT_TRUE(WaitFor([&] { return handler_.held() == 1; }));
  context.TryCancel();
  EXPECT_TRUE(WaitFor([&] { return handler_.HeldWasCancelled(0); }));
  handler_.Release(0);  // the stream may finish once its message is answered
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitFor([] { return live_streams.load() == 0; }));
}

TEST_F(CallStreamTest, AStreamWithoutTheTokenIsRefusedBeforeAnyRead) {
  Start({}, "secret");
  {
    grpc::ClientContext context;
    auto stream = stub_->Call(&context);
    stream->Write(Request("r"));
    stream->WritesDone();
    grpc::Status status;
    EXPECT_TRUE(ReadAll(*stream, &status).empty());
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(handler_.handled(), 0);
  grpc::ClientContext context;
  context.AddMetadata(kAuthorizationKey, BearerValue("secret"));
  auto stream = stub_->Call(&context);
  ASSERT_TRUE(stream->Write(Request("r")));
  stream->WritesDone();
  grpc::Status status;
  EXPECT_THAT(ReadAll(*stream, &status), ElementsAre("r"));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(CallStreamTest, ABatchedStreamAnswersEveryRequestOfEveryBatch) {
  Start({});
  grpc::ClientContext context;
  auto stream = batch_stub_->Call(&context);
  std::vector<std::string> sent;
  for (int b = 0; b < 10; ++b) {
    shoal::v1::DataRequestBatch batch;
    for (int i = 0; i < b; ++i) {  // 0 to 9 requests per batch
      sent.push_back(absl::StrCat("r", b, "-", i));
      batch.add_messages(Request(sent.back()).SerializeAsString());
    }
    ASSERT_TRUE(stream->Write(batch));
  }
  stream->WritesDone();
  grpc::Status status;
  std::vector<std::string> ids = ReadAllBatches(*stream, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::sort(ids.begin(), ids.end());
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(ids, sent);
  EXPECT_EQ(handler_.handled(), 45);
}

TEST_F(CallStreamTest, ABatchedStreamWritesTheAnswersThatWaitAsOneMessage) {
  Start({});
  grpc::ClientContext context;
  auto stream = batch_stub_->Call(&context);
  shoal::v1::DataRequestBatch batch;
  for (const char* id : {"hold1", "hold2", "hold3", "hold4"}) {
    batch.add_messages(Request(id).SerializeAsString());
  }
  ASSERT_TRUE(stream->Write(batch));
  stream->WritesDone();
  ASSERT_TRUE(WaitFor([&] { return handler_.held() == 4; }));
  // Each answer completes while the previous write may still be under way: however gRPC
  // schedules them, all four arrive, in at most four messages.
  handler_.ReleaseAll();
  grpc::Status status;
  std::vector<std::string> ids = ReadAllBatches(*stream, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::sort(ids.begin(), ids.end());
  EXPECT_THAT(ids, ElementsAre("hold1", "hold2", "hold3", "hold4"));
}

TEST_F(CallStreamTest, AMalformedBatchEndsTheStreamAfterTheEarlierAnswers) {
  Start({});
  grpc::ClientContext context;
  auto stream = batch_stub_->Call(&context);
  shoal::v1::DataRequestBatch good;
  good.add_messages(Request("r1").SerializeAsString());
  ASSERT_TRUE(stream->Write(good));
  shoal::v1::DataRequestBatch bad;
  ASSERT_TRUE(bad.ParseFromString(std::string("\x12\x01x", 3)));  // field 2: not a batch's
  ASSERT_TRUE(stream->Write(bad));
  stream->WritesDone();
  grpc::Status status;
  EXPECT_THAT(ReadAllBatches(*stream, &status), ElementsAre("r1"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("expected field 1"));
  EXPECT_EQ(handler_.handled(), 1);
}

TEST_F(CallStreamTest, ABatchedStreamWithoutTheTokenIsRefusedBeforeAnyRead) {
  Start({}, "secret");
  grpc::ClientContext context;
  auto stream = batch_stub_->Call(&context);
  shoal::v1::DataRequestBatch batch;
  batch.add_messages(Request("r").SerializeAsString());
  stream->Write(batch);
  stream->WritesDone();
  grpc::Status status;
  EXPECT_TRUE(ReadAllBatches(*stream, &status).empty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(handler_.handled(), 0);
}

}  // namespace
}  // namespace shoal::rpc
