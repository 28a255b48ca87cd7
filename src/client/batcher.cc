// Lazy batching of input documents into Jina DataRequests.
#include "src/client/batcher.h"

#include <utility>

#include "docarray.pb.h"
#include "src/common/ids.h"

namespace shoal::client {

Batcher::Batcher(const RequestTemplate& request)
    : endpoint_(request.endpoint),
      target_executor_(request.target_executor),
      request_size_(request.request_size),
      parameters_(request.parameters.proto()) {
  // Jina's client always asks for results this way; gateways read it as "return the docs".
  (*parameters_.mutable_fields())["__results__"].mutable_struct_value();
}

Batcher::Batcher(DocGenerator generator, const RequestTemplate& request) : Batcher(request) {
  generator_ = std::move(generator);
}

Batcher::Batcher(const DocList& docs, const RequestTemplate& request) : Batcher(request) {
  list_ = &docs;
}

std::unique_ptr<jina::DataRequestProto> Batcher::NewRequest() const {
  auto request = std::make_unique<jina::DataRequestProto>();
  jina::HeaderProto* header = request->mutable_header();
  header->set_request_id(RandomHexId());
  header->set_exec_endpoint(endpoint_);
  if (!target_executor_.empty()) header->set_target_executor(target_executor_);
  *request->mutable_parameters() = parameters_;
  request->mutable_data()->mutable_docs();
  return request;
}

size_t Batcher::Fill(docarray::DocListProto* docs, size_t limit) {
  size_t added = 0;
  while (limit == 0 || added < limit) {
    if (list_ != nullptr) {
      const docarray::DocListProto& source = list_->proto();
      if (next_index_ >= static_cast<size_t>(source.docs_size())) {
        exhausted_ = true;
        break;
      }
      *docs->add_docs() = source.docs(static_cast<int>(next_index_++));
    } else {
      Doc doc(docs->add_docs());
      doc.set_id(NewDocId());
      if (!generator_ || !generator_(doc)) {
        docs->mutable_docs()->RemoveLast();
        exhausted_ = true;
        break;
      }
    }
    ++added;
  }
  return added;
}

std::unique_ptr<jina::DataRequestProto> Batcher::Next() {
  // The first request goes out even when the input is empty; later ones only with docs.
  if (exhausted_ && requests_made_ > 0) return nullptr;
  std::unique_ptr<jina::DataRequestProto> request = NewRequest();
  size_t added = Fill(request->mutable_data()->mutable_docs(), request_size_);
  if (added == 0 && requests_made_ > 0) return nullptr;
  ++requests_made_;
  docs_made_ += added;
  return request;
}

}  // namespace shoal::client
