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
    Indexing gives views of the elements. Slices and lists of positions give lists that share
    the documents, as docarray's do: edits through them reach the original, while appending to
    or removing from them first makes them lists of their own (copies). ``docs.text`` reads a
    column (a list of values) and ``docs.text = [...]`` writes one.
    """

    # _handle: the native list; _view: None, or (parent native list, positions) for a slice.
    __slots__ = ('_handle', '_view')
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

    def __init__(self, docs=None):
        object.__setattr__(self, '_handle', _shoal.DocList())
        object.__setattr__(self, '_view', None)
        if docs is not None:
            self.extend(docs)

    @classmethod
    def _wrap(cls, handle):
        """A `cls` over the native list `handle`; reads and writes go to it (no copy)."""
        docs = object.__new__(cls)
        object.__setattr__(docs, '_handle', handle)
        object.__setattr__(docs, '_view', None)
        return docs

    @classmethod
    def _slice(cls, parent, positions):
        docs = object.__new__(cls)
        object.__setattr__(docs, '_handle', None)
        object.__setattr__(docs, '_view', (parent, positions))
        return docs

    @property
    def _docs(self):
        """The native list: for a slice, a copy of its documents."""
        if self._view is None:
            return self._handle
        parent, positions = self._view
        return parent.take(positions)

    def _own(self):
        """The native list to change: a slice becomes a list of its own first."""
        if self._view is not None:
            object.__setattr__(self, '_handle', self._docs)
            object.__setattr__(self, '_view', None)
        return self._handle

    @classmethod
    def construct(cls, docs):
        return cls(docs)

    # --- list behaviour -------------------------------------------------------------------

    def __len__(self):
        return len(self._handle) if self._view is None else len(self._view[1])

    def __iter__(self):
        wrap = self.doc_type._wrap
        if self._view is None:
            # By index, not through the native iterator, whose end is a C++ exception
            # (microseconds per loop); appends made while iterating are visited.
            handle = self._handle
            i = 0
            while i < len(handle):
                yield wrap(handle[i])
                i += 1
        else:
            parent, positions = self._view
            for position in positions:
                yield wrap(parent[position])

    def _parent_positions(self):
        if self._view is None:
            return self._handle, range(len(self._handle))
        return self._view

    def __getitem__(self, item):
        parent, positions = self._parent_positions()
        if isinstance(item, (int, np.integer)):
            n = len(positions)
            if not -n <= item < n:
                raise IndexError(f'DocList index {item} out of range for {n} documents')
            return self.doc_type._wrap(parent[positions[int(item)]])
        if isinstance(item, slice):
            return type(self)._slice(parent, list(positions[item]))
        if isinstance(item, str):
            raise TypeError('DocList indices are integers, slices or lists of them, not str '
                            '(read a column with docs.<field>)')
        return type(self)._slice(parent, [positions[i] for i in self._positions(item)])

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
        # docarray's rule: a DocList[T] holds T and its subclasses; DocList[AnyDoc] any document.
        wanted = BaseDoc if self.doc_type is AnyDoc else self.doc_type
        if not isinstance(doc, wanted):
            raise ValidationError(
                f'{type(self).__name__}: expected a {self.doc_type.__name__}, got '
                f'{type(doc).__name__}')

    def append(self, doc):
        """Appends a copy of `doc` and rebinds `doc` to the new element."""
        self._check(doc)
        object.__setattr__(doc, '_doc', self._own().append(doc._doc))

    def extend(self, docs):
        if isinstance(docs, DocList) and (self.doc_type is AnyDoc or
                                          issubclass(docs.doc_type, self.doc_type)):
            self._own().extend(docs._docs)
            return
        for doc in docs:
            self.append(doc)

    def _rebuild(self, handles):
        """Replaces the elements with copies of `handles` (which must not be views of them)."""
        own = self._own()
        own.clear()
        for handle in handles:
            own.append(handle)

    def insert(self, index, doc):
        self._check(doc)
        n = len(self)
        index = max(0, min(n, index + n if index < 0 else index))
        old = self._docs.copy()
        self._rebuild([old[i] for i in range(index)] + [doc._doc] +
                      [old[i] for i in range(index, n)])
        object.__setattr__(doc, '_doc', self._handle[index])

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
        doc = self.doc_type._wrap(self[index]._doc.copy())
        del self[index]
        return doc

    def clear(self):
        self._own().clear()

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
        """A list of its own with copies of the documents."""
        docs = self._docs
        return type(self)._wrap(docs.copy() if self._view is None else docs)


def _from_bytes(doc_type, data):
    return DocList[doc_type].from_bytes(data)
