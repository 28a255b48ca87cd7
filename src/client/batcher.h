// Lazy batching of a Post's input documents into Jina DataRequests of `request_size` docs each,
// as Jina's client builds them (reference/jina-semantics.md §9.2).
#ifndef SHOAL_CLIENT_BATCHER_H_
#define SHOAL_CLIENT_BATCHER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "google/protobuf/struct.pb.h"
#include "jina.pb.h"
#include "shoal/client.h"
#include "shoal/doc.h"
#include "shoal/params.h"

namespace shoal::client {

// What every request of one Post carries besides its documents.
struct RequestTemplate {
  std::string endpoint;         // header.exec_endpoint
  std::string target_executor;  // header.target_executor when non-empty
  size_t request_size = 100;    // docs per request; 0: all in one request
  Params parameters;            // copied into every request, plus `__results__: {}`
};

// Turns a document source into requests one at a time: each call to Next() pulls at most
// `request_size` docs from the source, so a generator is consumed only as fast as requests are
// sent. An empty source still yields one request (with an empty docs list), as Jina sends one
// request carrying only parameters when there are no inputs.
// Thread-compatible; owned by the thread that runs a Post.
class Batcher {
 public:
  // Pulls from `generator`; each doc handed to it starts empty with a fresh random id.
  Batcher(DocGenerator generator, const RequestTemplate& request);
  // Copies from `docs`, which must outlive the batcher.
  Batcher(const DocList& docs, const RequestTemplate& request);

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // The next request with a fresh request id, or nullptr once the input is exhausted.
  std::unique_ptr<jina::DataRequestProto> Next();

  size_t requests_made() const { return requests_made_; }
  size_t docs_made() const { return docs_made_; }

 private:
  Batcher(const RequestTemplate& request);
  std::unique_ptr<jina::DataRequestProto> NewRequest() const;
  // Appends up to `limit` docs (0: no limit) to `docs`; returns how many.
  size_t Fill(docarray::DocListProto* docs, size_t limit);

  // Constant after construction.
  std::string endpoint_;
  std::string target_executor_;
  size_t request_size_;
  google::protobuf::Struct parameters_;  // including `__results__`
  DocGenerator generator_;               // one source: generator_ or list_
  const DocList* list_ = nullptr;

  size_t next_index_ = 0;  // into list_
  bool exhausted_ = false;
  size_t requests_made_ = 0;
  size_t docs_made_ = 0;
};

}  // namespace shoal::client

#endif  // SHOAL_CLIENT_BATCHER_H_
