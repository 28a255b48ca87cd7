// Reduce: merges the DocLists of several partial results (the shards of an ALL-polling
// Deployment, or the predecessors of a Flow join) into one, by document id, as docarray's
// `reduce_all` does but deterministically and without its double-append bug (DESIGN.md §6).
#ifndef SHOAL_DOC_REDUCE_H_
#define SHOAL_DOC_REDUCE_H_

#include <span>

#include "docarray.pb.h"

namespace shoal::doc {

// Merges parts[1..] into *parts[0], in place; parts[1..] are only read. A document whose id is
// already in the result is merged into it with MergeDoc; any other document is appended, and a
// later document with the same id merges into the appended one, so each id appears once. The
// result keeps the order of parts[0], then new documents in encounter order. Documents without
// an `id` text field cannot be matched and are always appended; duplicate ids already inside
// parts[0] stay as they are (later documents merge into the first of them). A null part is
// skipped. The result depends only on the inputs and their order.
void ReduceDocLists(std::span<docarray::DocListProto* const> parts);

// Merges `right` into `left`, field by field (docarray's `BaseDoc.update`):
// - a field that is absent or None (no content) in `right` never overwrites `left`;
// - a field absent or None in `left`, or of a different kind, takes `right`'s node;
// - list: concatenated; set: union, no value twice; dict: updated per key, `right` wins;
// - doc: merged recursively; doc_array (e.g. `matches`): reduced by id recursively;
// - text, integer, float, boolean, blob, ndarray, tuple: `right` wins.
void MergeDoc(docarray::DocProto& left, const docarray::DocProto& right);

}  // namespace shoal::doc

#endif  // SHOAL_DOC_REDUCE_H_
