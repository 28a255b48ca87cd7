"""DocList[T]: docarray's typed list of documents over Shoal's native document lists.

A DocList wraps one ``_shoal.DocList`` (``self._docs``): a request's documents are a view of the
request, edited in place. ``DocList[T]`` is one class per document type T (cached).
"""

import typing

import _shoal
import numpy as np

from shoal.docarray.base_doc import AnyDoc, BaseDoc, ValidationError

__all__ = ['DocList']


class DocList:
    """A list of documents of one type, docarray style.

    ``DocList[TextDoc]([TextDoc(text='a'), ...])`` copies the documents into a new list and
    rebinds each of them to its element, so later edits through either name are seen by both.
    Indexing gives views of the elements; slices and ``take``-style indexing give new lists
    (copies). ``docs.text`` reads a column (a list of values) and ``docs.text = [...]`` writes one.
    """

    __slots__ = ('_docs',)
    doc_type = AnyDoc
    _classes = {}

    def __class_getitem__(cls, item):
        if isinstance(item, typing.TypeVar):
            return cls
        if not (isinstance(item, type) and issubclass(item, BaseDoc)):
            raise TypeError(f'DocList[...] takes a BaseDoc subclass, got {item!r}')
        key = (cls, item)
        klass = DocList._classes.get(key)
        if klass is None:
            klass = type(f'{cls.__name__}[{item.__name__}]', (cls,), {
                '__slots__': (),
                'doc_type': item,
                '__module__': cls.__module__,
            })
            DocList._classes[key] = klass
        return klass

    def __init__(self, docs=()):
        object.__setattr__(self, '_docs', _shoal.DocList())
        self.extend(docs)

    @classmethod
    def _wrap(cls, handle):
        """A `cls` over the native list `handle`; reads and writes go to it (no copy)."""
        docs = object.__new__(cls)
        object.__setattr__(docs, '_docs', handle)
        return docs

    @classmethod
    def construct(cls, docs):
        return cls(docs)

    # --- list behaviour -------------------------------------------------------------------

    def __len__(self):
        return len(self._docs)

    def __iter__(self):
        wrap = self.doc_type._wrap
        for handle in self._docs:
            yield wrap(handle)

    def __getitem__(self, item):
        if isinstance(item, (int, np.integer)):
            return self.doc_type._wrap(self._docs[int(item)])
        if isinstance(item, slice):
            return type(self)._wrap(self._docs.take(list(range(*item.indices(len(self))))))
        if isinstance(item, str):
            raise TypeError('DocList indices are integers, slices or lists of them, not str '
                            '(read a column with docs.<field>)')
        return type(self)._wrap(self._docs.take(self._positions(item)))

    def _positions(self, item):
        """Integer positions from a list of ints or of booleans (a mask)."""
        item = list(item)
        n = len(self)
        if item and all(isinstance(x, (bool, np.bool_)) for x in item):
            if len(item) != n:
                raise IndexError(f'DocList: a boolean mask of {len(item)} for {n} documents')
            return [i for i, keep in enumerate(item) if keep]
        positions = []
        for x in item:
            i = int(x)
            if not -n <= i < n:
                raise IndexError(f'DocList index {i} out of range for {n} documents')
            positions.append(i % n)
        return positions

    def _check(self, doc):
        if not isinstance(doc, BaseDoc):
            raise ValidationError(
                f'{type(self).__name__}: expected a {self.doc_type.__name__}, got '
                f'{type(doc).__name__}')

    def append(self, doc):
        """Appends a copy of `doc` and rebinds `doc` to the new element."""
        self._check(doc)
        object.__setattr__(doc, '_doc', self._docs.append(doc._doc))

    def extend(self, docs):
        if isinstance(docs, DocList):
            self._docs.extend(docs._docs)
            return
        for doc in docs:
            self.append(doc)

    def _rebuild(self, handles):
        """Replaces the elements with copies of `handles` (which must not be views of them)."""
        self._docs.clear()
        for handle in handles:
            self._docs.append(handle)

    def insert(self, index, doc):
        self._check(doc)
        n = len(self)
        index = max(0, min(n, index + n if index < 0 else index))
        old = self._docs.copy()
        self._rebuild([old[i] for i in range(index)] + [doc._doc] +
                      [old[i] for i in range(index, n)])
        object.__setattr__(doc, '_doc', self._docs[index])

    def __setitem__(self, index, doc):
        if not isinstance(index, (int, np.integer)):
            raise TypeError('DocList assignment takes an integer index')
        self._check(doc)
        n = len(self)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f'DocList index {index} out of range for {n} documents')
        index %= n
        old = self._docs.copy()
        self._rebuild([doc._doc if i == index else old[i] for i in range(n)])

    def __delitem__(self, index):
        n = len(self)
        if isinstance(index, slice):
            dropped = set(range(*index.indices(n)))
        else:
            dropped = set(self._positions([index]))
        old = self._docs.copy()
        self._rebuild([old[i] for i in range(n) if i not in dropped])

    def pop(self, index=-1):
        doc = self.doc_type._wrap(self._docs[index].copy())
        del self[index]
        return doc

    def clear(self):
        self._docs.clear()

    def __bool__(self):
        return len(self) > 0

    def __eq__(self, other):
        if not isinstance(other, DocList):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self):
        return f'<{type(self).__name__} (length={len(self)})>'

    # --- columns ----------------------------------------------------------------------------

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        fields = self.doc_type._docarray_fields()
        if name not in fields and self.doc_type is not AnyDoc:
            raise AttributeError(f'{type(self).__name__} has no attribute or field {name!r}')
        spec = fields.get(name)
        if spec is not None and spec.kind == 'doc' and not spec.optional:
            # docarray: a required nested-document column is a DocList of that type.
            return DocList[spec.target]([getattr(doc, name) for doc in self])
        return [getattr(doc, name) for doc in self]

    def __setattr__(self, name, values):
        if name.startswith('_'):
            object.__setattr__(self, name, values)
            return
        if name not in self.doc_type._docarray_fields() and self.doc_type is not AnyDoc:
            raise AttributeError(f'{type(self).__name__} has no field {name!r}')
        if len(values) != len(self):
            raise ValueError(f'{type(self).__name__}.{name}: {len(values)} values for '
                             f'{len(self)} documents')
        for doc, value in zip(self, values):
            setattr(doc, name, value)

    # --- serialisation ---------------------------------------------------------------------

    def to_bytes(self):
        """The docarray.DocListProto message, serialised (docarray's protobuf-array bytes)."""
        return self._docs.to_bytes()

    @classmethod
    def from_bytes(cls, data):
        return cls._wrap(_shoal.DocList.from_bytes(bytes(data)))

    def to_protobuf(self, message_class=None):
        """The message as `message_class` (a generated docarray.DocListProto class) when given,
        else its serialised bytes."""
        data = self.to_bytes()
        return data if message_class is None else message_class.FromString(data)

    @classmethod
    def from_protobuf(cls, message):
        """From a docarray.DocListProto message (anything with SerializeToString) or bytes."""
        data = message.SerializeToString() if hasattr(message, 'SerializeToString') else message
        return cls.from_bytes(data)

    def __reduce__(self):
        return (_from_bytes, (self.doc_type, self.to_bytes()))

    def copy(self):
        return type(self)._wrap(self._docs.copy())


def _from_bytes(doc_type, data):
    return DocList[doc_type].from_bytes(data)
