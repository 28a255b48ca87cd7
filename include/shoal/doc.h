// Documents: typed, non-copying views over docarray's wire messages (docarray.DocProto and
// docarray.DocListProto), encoded exactly as docarray >= 0.30 encodes them so that Python peers
// read what Shoal writes. A request is parsed once; Executors edit its documents in place.
#ifndef SHOAL_DOC_H_
#define SHOAL_DOC_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace docarray {
class DocProto;
class DocListProto;
class NodeProto;
class NdArrayProto;
}  // namespace docarray

namespace shoal {

class DocList;

// The docarray `type` tags Shoal writes (docarray reads them to pick the Python class).
inline constexpr std::string_view kIdType = "id";
inline constexpr std::string_view kNdArrayType = "ndarray";

// Read-only view of an ndarray value (docarray.NdArrayProto, dense). Valid while the node lives.
class NdArrayView {
 public:
  explicit NdArrayView(const docarray::NdArrayProto* proto) : proto_(proto) {}
  std::string_view dtype() const;  // numpy's dtype.str, e.g. "<f4"
  std::vector<uint32_t> shape() const;
  std::string_view bytes() const;  // raw C-order buffer
  size_t num_elements() const;     // product of shape
  // The values when dtype is "<f4" and the buffer holds exactly num_elements() floats (or is
  // empty with an empty shape); otherwise an empty span. Never a copy: a buffer that is not
  // float-aligned (protobuf's heap and arena strings always are) also reads as empty.
  std::span<const float> floats() const;

 private:
  const docarray::NdArrayProto* proto_;
};

// A view of one document. Cheap to copy; valid while the message it points into lives.
// Field names follow docarray's schemas: TextDoc is id, text, url, bytes_, embedding; a
// QueryDoc adds `matches` (a DocList) and `scores` (a list of floats).
// Thread-compatible.
class Doc {
 public:
  explicit Doc(docarray::DocProto* proto) : proto_(proto) {}

  std::string_view id() const;
  void set_id(std::string_view id);  // text with type "id"
  std::string_view text() const;
  void set_text(std::string_view text);
  std::string_view url() const;
  void set_url(std::string_view url);
  std::string_view bytes() const;  // field "bytes_"
  void set_bytes(std::string_view bytes);

  // The `embedding` field as floats without copying; empty when absent or not "<f4" (see
  // NdArrayView::floats).
  std::span<const float> embedding() const;
  // Writable floats of an existing "<f4" embedding (for in-place normalisation and the like).
  std::span<float> mutable_embedding();
  // Writes a 1-d "<f4" ndarray with type "ndarray".
  void set_embedding(std::span<const float> values);

  // `matches`: nested documents (created empty on first use).
  DocList matches();
  // `scores`: a list of floats.
  std::vector<double> scores() const;
  void set_scores(std::span<const double> scores);

  // Generic access by field name. A field holding None (a node with no content) is not `Has`.
  bool Has(std::string_view field) const;
  void Erase(std::string_view field);
  std::optional<std::string_view> GetText(std::string_view field) const;
  std::optional<int64_t> GetInt(std::string_view field) const;    // integer (int32 on the wire)
  std::optional<double> GetDouble(std::string_view field) const;  // float, or integer widened
  std::optional<bool> GetBool(std::string_view field) const;
  std::optional<std::string_view> GetBlob(std::string_view field) const;
  std::optional<NdArrayView> GetNdArray(std::string_view field) const;
  void SetText(std::string_view field, std::string_view value);
  void SetInt(std::string_view field, int32_t value);
  void SetDouble(std::string_view field, double value);
  void SetBool(std::string_view field, bool value);
  void SetBlob(std::string_view field, std::string_view value);
  void SetNdArray(std::string_view field, std::span<const float> values,
                  std::span<const uint32_t> shape);
  // A nested document / document list under `field`, created on first use.
  Doc MutableDoc(std::string_view field);
  DocList MutableDocList(std::string_view field);

  // The raw node under `field` (nullptr when absent), for kinds without a typed accessor
  // (list, set, tuple, dict). mutable_node adds an empty (None) node when absent.
  const docarray::NodeProto* node(std::string_view field) const;
  docarray::NodeProto* mutable_node(std::string_view field);

  docarray::DocProto& proto() const { return *proto_; }

 private:
  docarray::DocProto* proto_;
};

// An ordered list of documents: either a view into a message (a request's docs) or the owner
// of its own message. Movable, not copyable; a moved-from list may only be assigned or destroyed.
// Thread-compatible.
class DocList {
 public:
  // An empty list that owns its message.
  DocList();
  // A view of `proto`, which must outlive this list.
  explicit DocList(docarray::DocListProto* proto);
  DocList(DocList&&) noexcept;
  DocList& operator=(DocList&&) noexcept;
  DocList(const DocList&) = delete;
  DocList& operator=(const DocList&) = delete;
  ~DocList();

  // A deep copy that owns its message.
  DocList Clone() const;

  size_t size() const;
  bool empty() const { return size() == 0; }
  Doc operator[](size_t i) const;
  // Appends an empty document with a fresh random id (32 hex digits, as docarray's default).
  Doc Add();
  // Appends a copy of `doc`.
  Doc Append(const Doc& doc);
  // Moves all documents of `other` to the end of this list.
  void Extend(DocList&& other);
  void Clear();

  docarray::DocListProto& proto() const { return *proto_; }

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Doc;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Doc;
    Iterator() = default;
    Iterator(const DocList* list, size_t i) : list_(list), i_(i) {}
    Doc operator*() const { return (*list_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const DocList* list_ = nullptr;
    size_t i_ = 0;
  };
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, size()); }

 private:
  std::unique_ptr<docarray::DocListProto> owned_;
  docarray::DocListProto* proto_;
};

// A new random document id: 32 lower-case hex digits (docarray's default).
std::string NewDocId();

}  // namespace shoal

#endif  // SHOAL_DOC_H_
