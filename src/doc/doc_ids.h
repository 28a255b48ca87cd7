// Ids for documents that arrive without one. docarray gives every document a random id when it
// is made; a document that reaches a replica without one (a hand-built request, another client)
// would otherwise be stored under "" and overwrite the others.
#ifndef SHOAL_DOC_DOC_IDS_H_
#define SHOAL_DOC_DOC_IDS_H_

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "docarray.pb.h"

namespace shoal::doc {

// Gives every document of `docs` that has no id (no `id` field, an empty one or None), and
// every nested document without one (a `doc` field, or a `doc_array` such as matches or
// chunks, at any depth), an id of 32 hex digits like docarray's, with type "id". The id depends
// only on `seed` (the request id) and the document's place ("1", "1.matches[0]", ...), so
// every replica that applies the same request gives the same ids. Ids already there stay.
void AssignMissingIds(docarray::DocListProto& docs, std::string_view seed);

// The same, with the seed made by `make_seed` only once a document without an id is found
// (making it may cost a serialisation of the request).
void AssignMissingIds(docarray::DocListProto& docs, absl::FunctionRef<std::string()> make_seed);

}  // namespace shoal::doc

#endif  // SHOAL_DOC_DOC_IDS_H_
