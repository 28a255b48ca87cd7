// The objects behind `_shoal.Doc` and `_shoal.DocList`: views over docarray's wire messages that
// keep what they point into alive.
//
// Every view holds a shared Root: the owner of the top message (an owned DocProto/DocListProto,
// or a request's memory). Nothing a live view or numpy array may point into is freed while the
// Root lives: replacing or removing a nested document, list or exported ndarray moves the old
// message aside (into the Root's graveyard, or leaves it on the request's arena) instead of
// deleting it. A Root that stands for a request can have its views detached: each view still
// alive gets a deep copy of its message and a Root of its own, so that nothing refers to the
// request after it is answered (numpy arrays keep the request's memory alive instead).
//
// All of it runs under the GIL (views are created and destroyed by Python); a Root itself holds
// no Python object and may be released on any thread.
#ifndef SHOAL_PYTHON_DOC_VIEWS_H_
#define SHOAL_PYTHON_DOC_VIEWS_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "docarray.pb.h"

namespace shoal::python {

struct ViewLink {
  ViewLink* prev = nullptr;
  ViewLink* next = nullptr;
};

class View;

class Root {
 public:
  explicit Root(std::shared_ptr<const void> memory) : memory_(std::move(memory)) {
    views_.prev = views_.next = &views_;
  }
  Root(const Root&) = delete;
  Root& operator=(const Root&) = delete;

  // Views (Doc/DocList objects) and exported numpy arrays alive on this Root.
  int live() const { return live_; }
  void Link(View* view);
  void Unlink(View* view);
  void AddArrayExport(const void* array);
  void RemoveArrayExport(const void* array);
  bool IsArrayExported(const void* array) const { return array_exports_.contains(array); }
  bool HasArrayExports() const { return !array_exports_.empty(); }

  // Takes a message that may still be referenced by a live view; freed with the Root.
  void Bury(std::unique_ptr<google::protobuf::Message> message) {
    graveyard_.push_back(std::move(message));
  }

  // Gives every view still alive on this Root a deep copy of its message (and a Root of its own).
  void DetachViews();

 private:
  std::shared_ptr<const void> memory_;
  int live_ = 0;
  ViewLink views_;  // sentinel of the circular list of linked views
  absl::flat_hash_map<const void*, int> array_exports_;
  std::vector<std::unique_ptr<google::protobuf::Message>> graveyard_;
};

// A view linked into its Root's list while alive.
class View : public ViewLink {
 public:
  explicit View(std::shared_ptr<Root> root);
  View(const View&) = delete;
  View& operator=(const View&) = delete;
  virtual ~View();

  const std::shared_ptr<Root>& root() const { return root_; }
  // Copies the message into a fresh owned Root and moves this view there.
  virtual void Detach() = 0;

 protected:
  void Rehome(std::shared_ptr<Root> root);

 private:
  std::shared_ptr<Root> root_;
};

class DocView final : public View {
 public:
  DocView(std::shared_ptr<Root> root, docarray::DocProto* proto)
      : View(std::move(root)), proto_(proto) {}
  // An empty document that owns its message.
  static std::unique_ptr<DocView> Owned(docarray::DocProto message = {});
  docarray::DocProto* proto() const { return proto_; }
  void Detach() override;

 private:
  docarray::DocProto* proto_;
};

class DocListView final : public View {
 public:
  DocListView(std::shared_ptr<Root> root, docarray::DocListProto* proto)
      : View(std::move(root)), proto_(proto) {}
  static std::unique_ptr<DocListView> Owned(docarray::DocListProto message = {});
  docarray::DocListProto* proto() const { return proto_; }
  void Detach() override;

 private:
  docarray::DocListProto* proto_;
};

// Node <-> Python values (pybind11 exceptions name `field` on bad values).
pybind11::object NodeToPython(const std::shared_ptr<Root>& root, docarray::NodeProto* node,
                              std::string_view field);
// Writes `value` into the empty `node` (no content, no type).
void PythonToNode(pybind11::handle value, docarray::NodeProto* node, std::string_view field);

// The field operations of `_shoal.Doc` that may replace or remove messages.
void SetField(DocView& doc, std::string_view field, pybind11::handle value,
              std::string_view type_tag);
void EraseField(DocView& doc, std::string_view field);
void ClearList(DocListView& list);
// Empties `list`, a message of `root`, moving its documents aside (kept with `root`) when a view
// or an array of `root` is alive.
void RetireList(Root& root, docarray::DocListProto* list);

// The `_shoal.DocList` object for a request's docs whose memory is owned by `memory`; `root` is
// set to its Root (for DetachViews once the request is answered).
pybind11::object RequestDocList(docarray::DocListProto* docs, std::shared_ptr<const void> memory,
                                std::shared_ptr<Root>* root);
// The message of a `_shoal.DocList` object, or nullptr when `object` is not one.
docarray::DocListProto* DocListProtoOf(pybind11::handle object);

}  // namespace shoal::python

#endif  // SHOAL_PYTHON_DOC_VIEWS_H_
