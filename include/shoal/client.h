// The client: posts documents to a Shoal (or Jina) server over Jina's gRPC protocol, in
// requests of `request_size` docs, streamed over one JinaRPC/Call stream by default.
//
//   auto client = shoal::Client::Connect("127.0.0.1:12345");
//   auto docs = client->Post("/search", std::move(queries), {.request_size = 10});
#ifndef SHOAL_CLIENT_H_
#define SHOAL_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "shoal/doc.h"
#include "shoal/params.h"
#include "shoal/status.h"

namespace jina {
class DataRequestProto;
}  // namespace jina

namespace shoal {

// A view of one response. Valid during the callback that receives it.
class Response {
 public:
  explicit Response(jina::DataRequestProto* proto) : proto_(proto) {}
  bool ok() const;  // header.status.code == SUCCESS
  std::string_view request_id() const;
  std::string_view error() const;  // header.status.description when !ok()
  std::string_view exception_name() const;
  DocList docs() const;       // a view of the response's docs
  Params parameters() const;  // a view of the response's parameters
  jina::DataRequestProto& proto() const { return *proto_; }

 private:
  jina::DataRequestProto* proto_;
};

// Produces input documents lazily: fills `doc` (which arrives empty but for a fresh random id)
// and returns true, or returns false at the end. Called on the thread that called Post, only as
// fast as requests are sent.
using DocGenerator = std::function<bool(Doc& doc)>;

struct PostOptions {
  size_t request_size = 100;             // docs per request; 0 means all in one request
  Params parameters;                     // sent with every request (plus `__results__: {}`)
  std::string target_executor;           // regex over node names; empty: all
  size_t prefetch = 0;                   // max requests in flight; 0: the default (1000)
  bool results_in_order = false;         // responses in request order, not completion order
  bool stream = true;                    // one JinaRPC/Call stream; false: unary calls
  std::chrono::milliseconds timeout{0};  // per request; 0: none
  int max_attempts = 1;                  // attempts per request on UNAVAILABLE / DEADLINE_EXCEEDED
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{2000};
  double backoff_multiplier = 1.5;
  bool show_progress = false;  // a progress bar on stderr when it is a terminal
  // Called for every response, on the thread that called Post. With on_done or on_always set,
  // Post returns an empty DocList.
  std::function<void(const Response&)> on_done;   // successful responses
  std::function<void(const Response&)> on_error;  // responses with an Executor error
  std::function<void(const Response&)> on_always;
  // Without on_error, an Executor error makes Post fail unless this is set.
  bool continue_on_error = false;
};

// A call of a streaming endpoint (Jina's stream_doc).
struct StreamDocOptions {
  Params parameters;
  std::chrono::milliseconds timeout{0};  // the whole stream; 0: none
  std::string request_id;                // empty: a fresh random id
};

// Receives each document of a stream as it arrives (a view valid during the call). Return false
// to stop: the call is cancelled, and the Executor sees it (DocWriter::cancelled).
using StreamDocCallback = std::function<bool(const Doc& doc)>;

struct ClientOptions {
  // How long Connect waits for the server to accept a connection; 0: do not wait (connect on
  // first use).
  std::chrono::milliseconds connect_timeout{5000};
  // The server's shared secret (a Deployment's or Flow's `auth_token`), sent on every call as
  // gRPC metadata `authorization: Bearer <token>`; empty: none.
  std::string auth_token;
  // TLS (also when the address starts with grpcs://): `ssl_cafile` verifies the server (empty:
  // the system's roots); `ssl_certfile` + `ssl_keyfile` are presented to a server that requires
  // a client certificate (mTLS). PEM files.
  bool tls = false;
  std::string ssl_cafile;
  std::string ssl_certfile;
  std::string ssl_keyfile;
};

// Thread-safe: several threads may Post at once over the same connection.
class Client {
 public:
  // `address` is host:port, optionally with grpc:// or grpcs:// (TLS).
  static StatusOr<Client> Connect(std::string_view address, const ClientOptions& options = {});
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Sends `inputs` to endpoint `on` and returns the docs of all responses, concatenated in the
  // order received (request order with results_in_order). Blocks until every request is
  // answered or the Post fails; an empty input still sends one request (with no docs).
  // Errors: the gRPC code of a failed stream or call, with the address; UNKNOWN for an
  // Executor error nobody handles (its exception name and description in the message).
  StatusOr<DocList> Post(std::string_view on, const DocList& inputs,
                         const PostOptions& options = {});
  StatusOr<DocList> Post(std::string_view on, DocGenerator inputs, const PostOptions& options = {});

  // Sends `input` to streaming endpoint `on` over jina.JinaSingleDocumentRequestRPC/stream_doc
  // and calls `on_doc` on this thread with each document as the server sends it. OK when the
  // stream ended (or on_doc stopped it); UNKNOWN for an Executor error (its exception name and
  // description in the message; the documents before it were delivered); the gRPC code of a
  // failed call, with the address.
  Status StreamDoc(std::string_view on, const Doc& input, const StreamDocCallback& on_doc,
                   const StreamDocOptions& options = {});

  // grpc.health.v1 Check with service "": OK when SERVING.
  Status Ping(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal

#endif  // SHOAL_CLIENT_H_
