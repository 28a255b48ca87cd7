// Doc, DocList and NdArrayView: typed accessors over docarray.DocProto that read and write the
// wire message in place, encoding values the way docarray >= 0.30 does (see
// reference/jina-semantics.md §1.3).
#include "shoal/doc.h"

#include <bit>
#include <cstdint>
#include <limits>
#include <utility>

#include "docarray.pb.h"
#include "src/common/ids.h"

namespace shoal {

// The ndarray buffer is read in place as floats: the wire format is little-endian.
static_assert(std::endian::native == std::endian::little, "Shoal needs a little-endian host");

namespace {

constexpr std::string_view kFloat32Dtype = "<f4";

// Product of `shape`, saturating at SIZE_MAX (a shape from the wire may overflow).
size_t NumElements(const docarray::DenseNdArrayProto& dense) {
  size_t n = 1;
  for (uint32_t dim : dense.shape()) {
    if (__builtin_mul_overflow(n, static_cast<size_t>(dim), &n)) {
      return std::numeric_limits<size_t>::max();
    }
  }
  return n;
}

// True when `dense` is a "<f4" array whose buffer holds exactly its elements and can be read as
// floats where it lies. Buffers of protobuf strings come from the heap (or an arena, or the
// std::string's inline storage), all 8-byte aligned in practice; a misaligned buffer is treated
// as unreadable rather than copied, so that the accessors stay non-copying.
bool IsReadableFloat32(const docarray::DenseNdArrayProto& dense) {
  if (dense.dtype() != kFloat32Dtype) return false;
  const std::string& buffer = dense.buffer();
  if (buffer.empty() || buffer.size() % sizeof(float) != 0) return false;
  if (buffer.size() / sizeof(float) != NumElements(dense)) return false;
  return reinterpret_cast<uintptr_t>(buffer.data()) % alignof(float) == 0;
}

const docarray::NodeProto* FindNode(const docarray::DocProto& doc, std::string_view field) {
  auto it = doc.data().find(field);
  return it == doc.data().end() ? nullptr : &it->second;
}

// The node under `field` with `content` set, or nullptr.
const docarray::NodeProto* FindContent(const docarray::DocProto& doc, std::string_view field,
                                       docarray::NodeProto::ContentCase content) {
  const docarray::NodeProto* node = FindNode(doc, field);
  return node != nullptr && node->content_case() == content ? node : nullptr;
}

// The node under `field`, emptied (no content, no type) so that a setter writes it afresh.
docarray::NodeProto* ResetNode(docarray::DocProto& doc, std::string_view field) {
  docarray::NodeProto* node = &(*doc.mutable_data())[field];
  node->Clear();
  return node;
}

}  // namespace

std::string_view NdArrayView::dtype() const { return proto_->dense().dtype(); }

std::vector<uint32_t> NdArrayView::shape() const {
  return {proto_->dense().shape().begin(), proto_->dense().shape().end()};
}

std::string_view NdArrayView::bytes() const { return proto_->dense().buffer(); }

size_t NdArrayView::num_elements() const { return NumElements(proto_->dense()); }

std::span<const float> NdArrayView::floats() const {
  const docarray::DenseNdArrayProto& dense = proto_->dense();
  if (!IsReadableFloat32(dense)) return {};
  return {reinterpret_cast<const float*>(dense.buffer().data()),
          dense.buffer().size() / sizeof(float)};
}

std::string_view Doc::id() const { return GetText("id").value_or(std::string_view()); }

void Doc::set_id(std::string_view id) {
  docarray::NodeProto* node = ResetNode(*proto_, "id");
  node->set_text(id.data(), id.size());
  node->set_type(kIdType.data(), kIdType.size());
}

std::string_view Doc::text() const { return GetText("text").value_or(std::string_view()); }
void Doc::set_text(std::string_view text) { SetText("text", text); }
std::string_view Doc::url() const { return GetText("url").value_or(std::string_view()); }
void Doc::set_url(std::string_view url) { SetText("url", url); }
std::string_view Doc::bytes() const { return GetBlob("bytes_").value_or(std::string_view()); }
void Doc::set_bytes(std::string_view bytes) { SetBlob("bytes_", bytes); }

std::span<const float> Doc::embedding() const {
  std::optional<NdArrayView> array = GetNdArray("embedding");
  return array ? array->floats() : std::span<const float>();
}

std::span<float> Doc::mutable_embedding() {
  auto it = proto_->mutable_data()->find(std::string_view("embedding"));
  if (it == proto_->mutable_data()->end() || !it->second.has_ndarray()) return {};
  docarray::DenseNdArrayProto* dense = it->second.mutable_ndarray()->mutable_dense();
  if (!IsReadableFloat32(*dense)) return {};
  std::string* buffer = dense->mutable_buffer();
  return {reinterpret_cast<float*>(buffer->data()), buffer->size() / sizeof(float)};
}

void Doc::set_embedding(std::span<const float> values) {
  const uint32_t shape[1] = {static_cast<uint32_t>(values.size())};
  SetNdArray("embedding", values, shape);
}

DocList Doc::matches() { return MutableDocList("matches"); }

std::vector<double> Doc::scores() const {
  std::vector<double> scores;
  const docarray::NodeProto* node = FindContent(*proto_, "scores", docarray::NodeProto::kList);
  if (node == nullptr) return scores;
  scores.reserve(node->list().data_size());
  for (const docarray::NodeProto& item : node->list().data()) {
    if (item.has_float_()) {
      scores.push_back(item.float_());
    } else if (item.has_integer()) {
      scores.push_back(item.integer());
    }
  }
  return scores;
}

void Doc::set_scores(std::span<const double> scores) {
  docarray::ListOfAnyProto* list = ResetNode(*proto_, "scores")->mutable_list();
  list->mutable_data()->Reserve(static_cast<int>(scores.size()));
  for (double score : scores) list->add_data()->set_float_(score);
}

bool Doc::Has(std::string_view field) const {
  const docarray::NodeProto* found = node(field);
  return found != nullptr && found->content_case() != docarray::NodeProto::CONTENT_NOT_SET;
}

void Doc::Erase(std::string_view field) { proto_->mutable_data()->erase(field); }

std::optional<std::string_view> Doc::GetText(std::string_view field) const {
  const docarray::NodeProto* node = FindContent(*proto_, field, docarray::NodeProto::kText);
  if (node == nullptr) return std::nullopt;
  return std::string_view(node->text());
}

std::optional<int64_t> Doc::GetInt(std::string_view field) const {
  const docarray::NodeProto* node = FindContent(*proto_, field, docarray::NodeProto::kInteger);
  if (node == nullptr) return std::nullopt;
  return node->integer();
}

std::optional<double> Doc::GetDouble(std::string_view field) const {
  const docarray::NodeProto* found = node(field);
  if (found == nullptr) return std::nullopt;
  if (found->has_float_()) return found->float_();
  if (found->has_integer()) return found->integer();
  return std::nullopt;
}

std::optional<bool> Doc::GetBool(std::string_view field) const {
  const docarray::NodeProto* node = FindContent(*proto_, field, docarray::NodeProto::kBoolean);
  if (node == nullptr) return std::nullopt;
  return node->boolean();
}

std::optional<std::string_view> Doc::GetBlob(std::string_view field) const {
  const docarray::NodeProto* node = FindContent(*proto_, field, docarray::NodeProto::kBlob);
  if (node == nullptr) return std::nullopt;
  return std::string_view(node->blob());
}

std::optional<NdArrayView> Doc::GetNdArray(std::string_view field) const {
  const docarray::NodeProto* node = FindContent(*proto_, field, docarray::NodeProto::kNdarray);
  if (node == nullptr) return std::nullopt;
  return NdArrayView(&node->ndarray());
}

void Doc::SetText(std::string_view field, std::string_view value) {
  docarray::NodeProto* node = &(*proto_->mutable_data())[field];
  if (node->has_text()) {  // overwrite in place, reusing the string's storage
    node->mutable_text()->assign(value.data(), value.size());
    node->clear_docarray_type();
  } else {
    node->Clear();
    node->set_text(value.data(), value.size());
  }
}

void Doc::SetInt(std::string_view field, int32_t value) {
  ResetNode(*proto_, field)->set_integer(value);
}

void Doc::SetDouble(std::string_view field, double value) {
  ResetNode(*proto_, field)->set_float_(value);
}

void Doc::SetBool(std::string_view field, bool value) {
  ResetNode(*proto_, field)->set_boolean(value);
}

void Doc::SetBlob(std::string_view field, std::string_view value) {
  ResetNode(*proto_, field)->set_blob(value.data(), value.size());
}

void Doc::SetNdArray(std::string_view field, std::span<const float> values,
                     std::span<const uint32_t> shape) {
  docarray::NodeProto* node = &(*proto_->mutable_data())[field];
  // An existing array is rewritten in place so that its buffer's storage is reused.
  if (!node->has_ndarray()) node->Clear();
  node->set_type(kNdArrayType.data(), kNdArrayType.size());
  docarray::NdArrayProto* array = node->mutable_ndarray();
  array->clear_parameters();
  docarray::DenseNdArrayProto* dense = array->mutable_dense();
  dense->set_dtype(kFloat32Dtype.data(), kFloat32Dtype.size());
  dense->clear_shape();
  dense->mutable_shape()->Add(shape.begin(), shape.end());
  dense->mutable_buffer()->assign(reinterpret_cast<const char*>(values.data()),
                                  values.size_bytes());
}

Doc Doc::MutableDoc(std::string_view field) { return Doc(mutable_node(field)->mutable_doc()); }

DocList Doc::MutableDocList(std::string_view field) {
  return DocList(mutable_node(field)->mutable_doc_array());
}

const docarray::NodeProto* Doc::node(std::string_view field) const {
  return FindNode(*proto_, field);
}

docarray::NodeProto* Doc::mutable_node(std::string_view field) {
  return &(*proto_->mutable_data())[field];
}

DocList::DocList() : owned_(std::make_unique<docarray::DocListProto>()), proto_(owned_.get()) {}

DocList::DocList(DocList&& other) noexcept
    : owned_(std::move(other.owned_)), proto_(std::exchange(other.proto_, nullptr)) {}

DocList& DocList::operator=(DocList&& other) noexcept {
  if (this != &other) {
    owned_ = std::move(other.owned_);
    proto_ = std::exchange(other.proto_, nullptr);
  }
  return *this;
}

DocList::~DocList() = default;

DocList DocList::Clone() const {
  DocList copy;
  *copy.proto_ = *proto_;
  return copy;
}

size_t DocList::size() const { return static_cast<size_t>(proto_->docs_size()); }

Doc DocList::operator[](size_t i) const { return Doc(proto_->mutable_docs(static_cast<int>(i))); }

Doc DocList::Add() {
  Doc doc(proto_->add_docs());
  doc.set_id(NewDocId());
  return doc;
}

Doc DocList::Append(const Doc& doc) {
  // Element addresses of a RepeatedPtrField are stable, so `doc` may live in this list.
  docarray::DocProto* added = proto_->add_docs();
  *added = doc.proto();
  return Doc(added);
}

void DocList::Extend(DocList&& other) {
  if (other.proto_ == proto_) return;
  auto* from = other.proto_->mutable_docs();
  auto* to = proto_->mutable_docs();
  const int n = from->size();
  to->Reserve(to->size() + n);
  if (other.proto_->GetArena() == proto_->GetArena()) {
    // Same owner of memory: hand the messages over without copying them.
    std::vector<docarray::DocProto*> moved(static_cast<size_t>(n));
    from->UnsafeArenaExtractSubrange(0, n, moved.data());
    for (docarray::DocProto* doc : moved) to->UnsafeArenaAddAllocated(doc);
  } else {
    for (docarray::DocProto& doc : *from) *to->Add() = std::move(doc);
    from->Clear();
  }
}

void DocList::Clear() { proto_->Clear(); }

std::string NewDocId() { return RandomHexId(); }

}  // namespace shoal

namespace shoal {

// Out of line: the owning unique_ptr needs the complete message type.
DocList::DocList(docarray::DocListProto* proto) : proto_(proto) {}

}  // namespace shoal
