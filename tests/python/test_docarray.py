"""shoal.docarray: document classes from annotations, defaults, nested lists, ndarray fields,
and DocList's list and column operations, as docarray behaves."""
import pickle
from typing import Dict, List, Optional

import numpy as np
import pytest

import _shoal
from shoal.docarray import AnyDoc, BaseDoc, DocList, ValidationError
from shoal.docarray.documents import AudioDoc, ImageDoc, TextDoc, VideoDoc
from shoal.docarray.typing import AnyTensor, ID, ImageUrl, NdArray, TorchTensor


class QueryDoc(TextDoc):
    matches: DocList[TextDoc] = DocList[TextDoc]()


class Product(BaseDoc):
    title: str
    price: float = 0.0
    count: int = 1
    tags: Dict[str, str] = {}
    scores: List[float] = []
    image: Optional[ImageDoc] = None
    feature: NdArray[4] = np.zeros(4)


def test_text_doc_fields_and_defaults():
    doc = TextDoc(text='hello')
    assert doc.text == 'hello'
    assert doc.url is None and doc.embedding is None and doc.bytes_ is None
    assert len(doc.id) == 32 and int(doc.id, 16) >= 0
    assert TextDoc().id != TextDoc().id
    assert list(TextDoc._docarray_fields()) == ['id', 'text', 'url', 'embedding', 'bytes_']


def test_subclass_fields_come_through_the_mro_after_the_base_fields():
    assert list(QueryDoc._docarray_fields()) == ['id', 'text', 'url', 'embedding', 'bytes_',
                                                 'matches']
    assert list(ImageDoc._docarray_fields()) == ['id', 'url', 'tensor', 'embedding', 'bytes_']
    assert 'frame_rate' in AudioDoc._docarray_fields()
    assert isinstance(VideoDoc().audio, AudioDoc)


def test_keyword_construction_and_attribute_writes_go_to_the_message():
    embedding = np.random.rand(128)
    doc = TextDoc(id='d1', text='a', embedding=embedding, url='http://x/a.txt')
    assert doc.id == 'd1'
    assert doc.url == 'http://x/a.txt'
    np.testing.assert_array_equal(doc.embedding, embedding)
    doc.text = 'b'
    assert doc._doc.get('text') == 'b'
    doc.text = None
    assert doc.text is None


def test_unknown_keyword_and_unknown_attribute_are_errors_naming_them():
    with pytest.raises(ValidationError, match="unknown field 'txt'"):
        TextDoc(txt='a')
    doc = TextDoc()
    with pytest.raises(ValidationError, match='no field "txt"'):
        doc.txt = 'a'


def test_required_fields_and_scalar_types_are_checked():
    with pytest.raises(ValidationError, match="field 'title' is required"):
        Product()
    with pytest.raises(ValidationError, match="field 'title': expected str, got int"):
        Product(title=3)
    product = Product(title='t', price=3, tags={'a': 'b'}, scores=[0.5, 1.5])
    assert product.price == 3.0 and isinstance(product.price, float)
    assert product.count == 1
    assert product.tags == {'a': 'b'}
    assert product.scores == [0.5, 1.5]
    assert product.image is None


def test_each_instance_gets_its_own_nested_list():
    a, b = QueryDoc(text='a'), QueryDoc(text='b')
    a.matches.append(TextDoc(text='m'))
    assert len(a.matches) == 1 and len(b.matches) == 0
    assert len(QueryDoc(text='c').matches) == 0
    assert a.matches[0].text == 'm'


def test_nested_list_assignment_copies_and_reads_back_as_the_annotated_type():
    query = QueryDoc(text='q')
    found = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(3)])
    query.matches = found
    assert isinstance(query.matches, DocList[TextDoc])
    assert query.matches.text == ['0', '1', '2']
    query.matches = [TextDoc(text='x')]
    assert query.matches.text == ['x']
    with pytest.raises(ValidationError, match="field 'matches'"):
        query.matches = 'not a list'


def test_a_wrapped_message_without_the_list_field_creates_it_on_first_use():
    handle = _shoal.Doc()
    handle.id = 'w'
    query = QueryDoc._wrap(handle)
    assert query.text is None
    query.matches.append(TextDoc(text='m'))
    assert handle.doc_list('matches')[0].get('text') == 'm'


def test_nested_document_field():
    product = Product(title='t', image=ImageDoc(url='http://x/a.png'))
    assert isinstance(product.image, ImageDoc)
    assert product.image.url == 'http://x/a.png'
    product.image.url = 'http://x/b.png'
    assert product.image.url == 'http://x/b.png'
    product.image = {'url': 'http://x/c.png'}
    assert product.image.url == 'http://x/c.png'


@pytest.mark.parametrize('dtype', ['<f4', '<f8', '<i8', '|u1', '<f2'])
def test_ndarray_round_trip_keeps_dtype_and_shape(dtype):
    tensor = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    doc = ImageDoc(tensor=tensor)
    again = ImageDoc.from_bytes(doc.to_bytes())
    assert again.tensor.dtype == np.dtype(dtype)
    assert again.tensor.shape == (2, 3, 4)
    np.testing.assert_array_equal(again.tensor, tensor)


def test_ndarray_reads_are_views_that_write_through():
    doc = TextDoc(embedding=np.zeros(8, dtype=np.float32))
    doc.embedding[:] = 2.0
    np.testing.assert_array_equal(doc.embedding, np.full(8, 2.0, dtype=np.float32))


def test_torch_tensors_are_stored_as_numpy():
    torch = pytest.importorskip('torch')
    doc = TextDoc(embedding=torch.ones(3))
    assert isinstance(doc.embedding, np.ndarray)
    np.testing.assert_array_equal(doc.embedding, np.ones(3, dtype=np.float32))


def test_shaped_ndarray_fields_reshape_or_refuse():
    product = Product(title='t', feature=np.ones((2, 2)))
    assert product.feature.shape == (4,)
    with pytest.raises(ValidationError, match=r"field 'feature': cannot reshape tensor of shape "
                       r'\(5,\) to \(4,\)'):
        Product(title='t', feature=np.ones(5))
    with pytest.raises(ValidationError, match="field 'embedding': expected a numeric tensor"):
        TextDoc(embedding='not a tensor')


def test_typing_annotations():
    class MyDoc(BaseDoc):
        uid: ID = 'x'
        tensor: Optional[AnyTensor] = None
        torch_tensor: Optional[TorchTensor] = None
        image: Optional[ImageUrl] = None

    doc = MyDoc(tensor=np.ones(2), torch_tensor=np.zeros(3), image='http://x/i.png')
    assert doc.uid == 'x'
    assert doc.image == 'http://x/i.png'
    assert doc.torch_tensor.shape == (3,)
    with pytest.raises(ValidationError, match="field 'image': expected a str"):
        doc.image = 5


def test_dict_eq_copy_repr_and_pickle():
    doc = TextDoc(id='a', text='t', embedding=np.ones(3))
    assert doc.dict()['text'] == 't'
    other = TextDoc(id='b', text='t', embedding=np.ones(3))
    assert doc == other  # docarray compares fields other than the id
    assert doc != TextDoc(text='u', embedding=np.ones(3))
    copy = doc.copy()
    copy.text = 'changed'
    assert doc.text == 't' and copy.id == 'a'
    assert "text='t'" in repr(doc) and repr(doc).startswith('TextDoc(')
    assert pickle.loads(pickle.dumps(doc)) == doc
    query = QueryDoc(text='q', matches=[TextDoc(text='m')])
    assert query.dict()['matches'][0]['text'] == 'm'


def test_any_doc_reads_every_field():
    doc = AnyDoc(text='t', n=3, vec=np.arange(3))
    assert doc.text == 't' and doc.n == 3
    np.testing.assert_array_equal(doc.vec, np.arange(3))
    as_text = TextDoc.from_bytes(doc.to_bytes())
    assert as_text.text == 't' and as_text.id == doc.id
    with pytest.raises(AttributeError, match="no field 'nope'"):
        doc.nope


def test_doc_list_construction_len_iteration_and_indexing():
    docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(5)])
    assert len(docs) == 5
    assert [d.text for d in docs] == ['0', '1', '2', '3', '4']
    assert isinstance(docs[0], TextDoc) and docs[-1].text == '4'
    assert isinstance(docs[1:3], DocList[TextDoc]) and docs[1:3].text == ['1', '2']
    assert docs[::2].text == ['0', '2', '4']
    assert docs[[4, 0]].text == ['4', '0']
    assert docs[[True, False, True, False, False]].text == ['0', '2']
    with pytest.raises(IndexError):
        docs[5]
    assert DocList[TextDoc] is DocList[TextDoc]
    assert isinstance(docs, DocList)
    with pytest.raises(TypeError, match='BaseDoc subclass'):
        DocList[int]


def test_slices_share_the_documents_until_they_change_shape():
    docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(6)])
    head = docs[:3]
    head[0].text = 'edited'
    head.text = ['a', 'b', 'c']  # a column written through a slice reaches the original
    for doc in docs[3:]:
        doc.text = 'tail'
    assert docs.text == ['a', 'b', 'c', 'tail', 'tail', 'tail']
    picked = docs[[5, 0]][::-1]
    assert picked.text == ['a', 'tail'] and len(picked) == 2 and picked[-1].text == 'tail'
    head.append(TextDoc(text='new'))  # the slice becomes a list of its own
    head[0].text = 'own'
    assert head.text == ['own', 'b', 'c', 'new'] and len(docs) == 6 and docs[0].text == 'a'
    query = QueryDoc(text='q')
    query.matches = docs[1:3]
    assert query.matches.text == ['b', 'c']
    assert DocList[TextDoc].from_bytes(docs[4:].to_bytes()).text == ['tail', 'tail']
    copy = docs[:2].copy()
    copy[0].text = 'copy'
    assert docs[0].text == 'a'
    with pytest.raises(IndexError):
        docs[2:4][2]


def test_doc_list_append_extend_insert_setitem_delitem():
    docs = DocList[TextDoc]()
    doc = TextDoc(text='a')
    docs.append(doc)
    doc.text = 'A'  # the appended doc is now the list's element
    assert docs[0].text == 'A'
    docs.extend([TextDoc(text='b'), TextDoc(text='c')])
    docs.extend(DocList[TextDoc]([TextDoc(text='d')]))
    docs.insert(1, TextDoc(text='x'))
    assert docs.text == ['A', 'x', 'b', 'c', 'd']
    docs[0] = TextDoc(text='z')
    del docs[1]
    assert docs.text == ['z', 'b', 'c', 'd']
    assert docs.pop().text == 'd'
    assert docs.text == ['z', 'b', 'c']
    with pytest.raises(ValidationError, match='expected a TextDoc'):
        docs.append('x')


def test_doc_list_columns_read_and_write():
    docs = DocList[TextDoc]([TextDoc(text=str(i), embedding=np.full(4, i)) for i in range(3)])
    assert docs.text == ['0', '1', '2']
    embeddings = docs.embedding
    assert isinstance(embeddings, list) and len(embeddings) == 3
    np.testing.assert_array_equal(embeddings[2], np.full(4, 2))
    docs.embedding = np.eye(3)
    np.testing.assert_array_equal(docs[1].embedding, [0, 1, 0])
    docs.text = ['a', 'b', 'c']
    assert [d.text for d in docs] == ['a', 'b', 'c']
    with pytest.raises(ValueError, match='2 values for 3 documents'):
        docs.text = ['a', 'b']
    with pytest.raises(AttributeError, match='nope'):
        docs.nope


def test_doc_list_of_nested_documents_column():
    class Outer(BaseDoc):
        inner: TextDoc

    outers = DocList[Outer]([Outer(inner=TextDoc(text=str(i))) for i in range(2)])
    inner = outers.inner
    assert isinstance(inner, DocList[TextDoc]) and inner.text == ['0', '1']


def test_doc_list_bytes_protobuf_pickle_and_wrap():
    docs = DocList[QueryDoc]([QueryDoc(text='q', matches=[TextDoc(text='m')])])
    data = docs.to_bytes()
    again = DocList[QueryDoc].from_bytes(data)
    assert again[0].matches[0].text == 'm'
    assert DocList[QueryDoc].from_protobuf(data) == docs
    assert pickle.loads(pickle.dumps(docs)) == docs
    handle = _shoal.DocList.from_bytes(data)
    wrapped = DocList[QueryDoc]._wrap(handle)
    wrapped[0].text = 'edited'
    assert handle[0].get('text') == 'edited'


def test_doc_list_takes_its_document_type_and_subclasses_only():
    docs = DocList[TextDoc]([QueryDoc(text='q')])
    assert docs[0].text == 'q'
    with pytest.raises(ValidationError, match=r'DocList\[TextDoc\]: expected a TextDoc, got '
                       'ImageDoc'):
        docs.append(ImageDoc())
    with pytest.raises(ValidationError, match='got ImageDoc'):
        docs.extend(DocList[ImageDoc]([ImageDoc()]))
    anything = DocList[AnyDoc]([ImageDoc(), TextDoc()])
    assert len(anything) == 2 and len(DocList[TextDoc](None)) == 0
    assert DocList().doc_type is AnyDoc


def test_ids_from_ints_and_numpy_scalars_in_untyped_fields():
    assert TextDoc(id=7).id == '7'
    assert len(TextDoc(id=None).id) == 32
    with pytest.raises(ValidationError, match="field 'id': expected a str, got list"):
        TextDoc(id=[1])
    product = Product(title='t', tags={'a': 'b'}, price=np.float32(2.5), count=np.int64(4))
    assert product.price == 2.5 and product.count == 4
    doc = AnyDoc(n=np.int64(3))
    assert doc.n == 3


def test_document_classes_survive_cloudpickle_by_value():
    # The Python Deployment API sends a script's Executor (and its document classes) this way.
    cloudpickle = pytest.importorskip('cloudpickle')

    class Local(TextDoc):
        title: str
        matches: DocList[TextDoc] = DocList[TextDoc]()

    Local(title='resolved before pickling')  # the class has resolved its fields
    Copied = pickle.loads(cloudpickle.dumps(Local))
    with pytest.raises(ValidationError, match="field 'title' is required"):
        Copied()
    doc = Copied(title='t')
    doc.matches.append(TextDoc(text='m'))
    assert doc.title == 't' and doc.matches.text == ['m']


def test_defaults_read_from_a_message_without_the_field_are_copies():
    wrapped = Product._wrap(_shoal.Doc())
    wrapped.tags['changed'] = 'yes'
    wrapped.feature[:] = 7
    assert Product(title='t').tags == {}
    assert not Product(title='t').feature.any()
    assert Product._wrap(_shoal.Doc()).tags == {}


def test_text_doc_takes_its_text_by_position_and_compares_with_str():
    doc = TextDoc('hello world')
    assert doc.text == 'hello world' and doc == 'hello world'
    assert 'world' in doc and 'moon' not in doc and 'x' not in TextDoc()
    assert QueryDoc('q').text == 'q'
