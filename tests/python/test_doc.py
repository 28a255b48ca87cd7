"""_shoal.Doc and _shoal.DocList: views over docarray's wire messages."""
import copy
import gc
import pickle

import numpy as np
import pytest

import _shoal
from _shoal import Doc, DocList


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):  # a length-delimited protobuf field
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _doc_with_ndarray(name, buffer, shape, dtype):
    """The bytes of a DocProto whose field `name` is an ndarray, written by hand."""
    dense = _field(1, buffer) + _field(2, b''.join(_varint(d) for d in shape)) + _field(3, dtype.encode())
    node = _field(6, _field(1, dense))
    entry = _field(1, name.encode()) + _field(2, node)
    return _field(1, entry)


def test_scalars_round_trip_with_types():
    d = Doc()
    assert d.fields() == []
    d.id = 'abc'
    d.set('text', 'héllo')
    d.set('n', 7)
    d.set('x', 2.5)
    d.set('flag', True)
    d.set('raw', b'\x00\x01')
    d.set('nothing', None)
    assert d.id == 'abc' and d.type_tag('id') == 'id'
    assert d.get('text') == 'héllo' and d.type_tag('text') == ''
    assert d.get('n') == 7 and type(d.get('n')) is int
    assert d.get('x') == 2.5
    assert d.get('flag') is True
    assert d.get('raw') == b'\x00\x01'
    assert d.get('nothing') is None and d.has('nothing')
    assert d.fields() == sorted(['id', 'text', 'n', 'x', 'flag', 'raw', 'nothing'])
    d.erase('n')
    d.erase('n')  # absent: nothing to do
    assert not d.has('n')
    with pytest.raises(KeyError, match="'n'"):
        d.get('n')


def test_containers_convert_recursively():
    d = Doc()
    tags = {'a': [1, 2.5, 'x', None, (1, False)], 'b': {1, 2}, 'c': {'d': b'e'}}
    d.set('tags', tags)
    assert d.get('tags') == tags
    d.set('np_scalar', np.float32(1.5))
    assert d.get('np_scalar') == 1.5


def test_bad_values_name_the_field():
    d = Doc()
    with pytest.raises(TypeError, match="field 'f'.*object"):
        d.set('f', object())
    with pytest.raises(OverflowError, match="field 'big'"):
        d.set('big', 2**31)
    with pytest.raises(TypeError, match="field 'k': dict keys must be str"):
        d.set('k', {1: 2})
    with pytest.raises(TypeError, match="field 'o'"):
        d.set('o', np.array([object()]))
    nested = []
    for _ in range(200):
        nested = [nested]
    with pytest.raises(ValueError, match='nested more than'):
        d.set('deep', nested)
    # A failed set leaves the field as it was.
    d.set('keep', 'yes')
    with pytest.raises(TypeError):
        d.set('keep', [1, object()])
    assert d.get('keep') == 'yes'


def test_ndarray_is_a_writable_view_sharing_the_message():
    d = Doc()
    d.set('embedding', np.arange(6, dtype=np.float32).reshape(2, 3))
    assert d.type_tag('embedding') == 'ndarray'
    e = d.get('embedding')
    assert e.dtype == np.float32 and e.shape == (2, 3) and e.flags.writeable
    e[1, :] = 9
    assert d.get('embedding')[1].tolist() == [9, 9, 9]
    assert np.shares_memory(e, d.get('embedding'))
    back = Doc.from_bytes(d.to_bytes()).get('embedding')
    assert back.tolist() == [[0, 1, 2], [9, 9, 9]]


@pytest.mark.parametrize('dtype', ['<f4', '<f8', '<i8', '|u1', '<c8', '>i4', '|b1'])
def test_ndarray_dtypes_round_trip(dtype):
    a = (np.arange(12) % 2).astype(dtype).reshape(3, 4)
    d = Doc()
    d.set('t', a)
    got = Doc.from_bytes(d.to_bytes()).get('t')
    assert got.dtype == np.dtype(dtype) and got.shape == (3, 4)
    np.testing.assert_array_equal(got, a)


def test_non_contiguous_and_array_likes_are_copied_in():
    a = np.arange(16, dtype=np.float32).reshape(4, 4).T
    d = Doc()
    d.set('t', a)
    np.testing.assert_array_equal(d.get('t'), a)
    torch = pytest.importorskip('torch')
    d.set('torch', torch.ones(3))
    np.testing.assert_array_equal(d.get('torch'), np.ones(3, dtype=np.float32))


def test_inconsistent_buffers_are_rejected_and_empty_ones_are_zeros():
    bad = Doc.from_bytes(_doc_with_ndarray('e', b'\0' * 12, [4], '<f4'))
    with pytest.raises(ValueError, match="field 'e': ndarray buffer holds 12 bytes.*needs 16"):
        bad.get('e')
    huge = Doc.from_bytes(_doc_with_ndarray('e', b'\0' * 4, [2**32 - 1] * 3, '<f4'))
    with pytest.raises(ValueError, match='needs more than'):
        huge.get('e')
    with pytest.raises(ValueError, match="'<zz' is not a numpy dtype"):
        Doc.from_bytes(_doc_with_ndarray('e', b'\0' * 4, [1], '<zz')).get('e')
    with pytest.raises(ValueError, match='Python objects'):
        Doc.from_bytes(_doc_with_ndarray('e', b'\0' * 8, [1], '|O')).get('e')
    zeros = Doc.from_bytes(_doc_with_ndarray('e', b'', [2, 2], '<f4')).get('e')
    assert zeros.shape == (2, 2) and not zeros.any()
    with pytest.raises(ValueError, match='not a serialized docarray.DocProto'):
        Doc.from_bytes(b'\xff\xff\xff')


def test_array_keeps_its_document_alive():
    d = Doc()
    d.set('e', np.full(1000, 3, dtype=np.float32))
    e = d.get('e')
    del d
    gc.collect()
    assert e.sum() == 3000
    e[:] = 1
    assert e.sum() == 1000


def test_views_survive_removal_and_replacement():
    docs = DocList()
    first = docs.add()
    first.set('e', np.ones(100, dtype=np.float32))
    array = first.get('e')
    inner = first.doc('inner')
    inner.set('text', 'deep')
    docs.clear()
    assert len(docs) == 0
    assert first.get('e').sum() == 100 and array.sum() == 100
    assert inner.get('text') == 'deep'
    holder = Doc()
    holder.set('e', np.zeros(10, dtype=np.float32))
    kept = holder.get('e')
    holder.set('e', np.ones(1000, dtype=np.float32))  # replaces the exported array
    holder.erase('e')
    assert kept.shape == (10,) and not kept.any()
    nested = holder.doc('n')
    nested.set('x', 1)
    holder.set('n', 'text now')
    assert nested.get('x') == 1


def test_nested_doc_and_list_views():
    d = Doc()
    m = d.doc_list('matches')
    assert len(m) == 0 and d.has('matches')
    m.add().set('text', 'a')
    assert d.get('matches')[0].get('text') == 'a'
    d.doc('child').set('text', 'c')
    assert d.get('child').get('text') == 'c'
    d.set('text', 'x')
    with pytest.raises(TypeError, match="field 'text' holds text, not a document"):
        d.doc('text')
    with pytest.raises(TypeError, match='not a document list'):
        d.doc_list('text')


def test_copying_a_document_into_itself():
    d = Doc()
    d.set('text', 'root')
    d.set('self', d)
    assert d.get('self').get('text') == 'root'
    assert not d.get('self').has('self')
    docs = DocList()
    docs.add().set('text', 'a')
    docs.extend(docs)
    docs.append(docs[0])
    assert [x.get('text') for x in docs] == ['a', 'a', 'a']
    parent = docs[0]
    parent.doc_list('children').append(parent)
    assert parent.get('children')[0].get('text') == 'a'


def test_doclist_operations():
    docs = DocList()
    a = docs.add()
    assert len(a.id) == 32 and int(a.id, 16) >= 0
    b = Doc()
    b.id = 'b'
    appended = docs.append(b)
    b.set('text', 'changed later')
    assert not appended.has('text')  # append copies
    assert [x.id for x in docs] == [a.id, 'b']
    assert docs[-1].id == 'b'
    with pytest.raises(IndexError):
        docs[2]
    with pytest.raises(IndexError):
        docs[-3]
    other = DocList()
    other.extend(docs)
    assert len(other) == 2
    taken = docs.take([1, 0, -1])
    assert [x.id for x in taken] == ['b', a.id, 'b']
    taken[0].id = 'c'
    assert docs[1].id == 'b'
    c = docs.copy()
    c[0].id = 'z'
    assert docs[0].id == a.id
    again = DocList.from_bytes(docs.to_bytes())
    assert [x.id for x in again] == [x.id for x in docs]
    assert [x.id for x in pickle.loads(pickle.dumps(docs))] == [a.id, 'b']
    assert copy.deepcopy(docs[1]).id == 'b'
    with pytest.raises(ValueError, match='DocListProto'):
        DocList.from_bytes(b'\x0a\xff')


def test_iteration_sees_appends_and_copies_are_owned():
    docs = DocList()
    docs.add()
    seen = 0
    for doc in docs:
        seen += 1
        if seen < 3:
            docs.add()
    assert seen == 3
    d = docs[0]
    owned = d.copy()
    owned.set('text', 'mine')
    assert not d.has('text')


def test_module_exposes_both_classes():
    assert _shoal.Doc is Doc and _shoal.DocList is DocList
    assert 'len=0' in repr(DocList())
