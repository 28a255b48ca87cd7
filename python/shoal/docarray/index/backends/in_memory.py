"""InMemoryExactNNIndex: docarray's in-memory exact nearest-neighbour index, searched in C++.

The documents are kept as copies (one native document per id); each tensor field of the schema
has its own ``_shoal.ExactNNIndex`` (OpenBLAS, cosine similarity like docarray's default
``cosine_sim`` space) over the documents that have a value in it.

One index may be used from several threads: a lock makes each write (index, delete) and each read
see the documents and their vectors together. Searches release the GIL while the native index
runs, so other Python threads go on meanwhile, but searches of one index run one at a time.
"""

import os
import threading
import typing

import _shoal
import numpy as np

from shoal.docarray.base_doc import BaseDoc
from shoal.docarray.doc_list import DocList
from shoal.docarray.typing import _is_torch

__all__ = ['InMemoryExactNNIndex', 'FindResult', 'FindResultBatched']


class FindResult(typing.NamedTuple):
    documents: DocList
    scores: np.ndarray


class FindResultBatched(typing.NamedTuple):
    documents: typing.List[DocList]
    scores: typing.List[np.ndarray]


def _as_vector_rows(values, what):
    """A 2-d float32 array from a list of vectors; ValueError naming `what` when they differ."""
    rows = []
    for i, value in enumerate(values):
        if value is None:
            raise ValueError(f'{what} #{i} has no vector')
        if _is_torch(value):
            value = value.detach().cpu().numpy()
        rows.append(np.asarray(value, dtype=np.float32).reshape(-1))
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    sizes = {row.size for row in rows}
    if len(sizes) > 1:
        raise ValueError(f'{what}: vectors of different dimensions {sorted(sizes)}')
    return np.stack(rows)


class InMemoryExactNNIndex:
    """``InMemoryExactNNIndex[TextDoc]()``: index documents, find the nearest by a tensor field.

    ``index(docs)`` stores copies (upsert by id); ``find(query, search_field='embedding',
    limit=10)`` gives ``(documents, scores)``, best first, scores being cosine similarities.
    """

    _schema = None
    _classes = {}

    def __class_getitem__(cls, schema):
        if not (isinstance(schema, type) and issubclass(schema, BaseDoc)):
            raise TypeError(f'InMemoryExactNNIndex[...] takes a BaseDoc subclass, got {schema!r}')
        klass = InMemoryExactNNIndex._classes.get(schema)
        if klass is None:
            klass = type(f'{cls.__name__}[{schema.__name__}]', (cls,), {'_schema': schema})
            InMemoryExactNNIndex._classes[schema] = klass
        return klass

    def __init__(self, docs=None, index_file_path=None, **kwargs):
        if self._schema is None:
            raise TypeError('InMemoryExactNNIndex needs a schema: InMemoryExactNNIndex[MyDoc]()')
        if kwargs:
            raise TypeError(f'InMemoryExactNNIndex: unsupported argument {next(iter(kwargs))!r}')
        fields = self._schema._docarray_fields()
        self._vector_fields = [name for name, spec in fields.items() if spec.kind == 'tensor']
        self._lock = threading.Lock()  # guards _docs, _positions and _vectors together
        self._docs = []  # owned native documents, one per id
        self._positions = {}  # id -> index in self._docs
        self._vectors = {name: _shoal.ExactNNIndex('cosine') for name in self._vector_fields}
        self._index_file_path = index_file_path
        if index_file_path is not None:
            try:
                with open(index_file_path, 'rb') as f:
                    self.index(DocList[self._schema].from_bytes(f.read()))
            except FileNotFoundError:
                pass
        if docs is not None:
            self.index(docs)

    # --- writing ------------------------------------------------------------------------

    def index(self, docs):
        """Stores copies of `docs` (a document or an iterable of them), replacing any stored
        document with the same id. Every document is checked before any is stored."""
        handles = self._handles(docs)
        copies = [handle.copy() for handle in handles]
        with self._lock:
            self._store(copies)

    def _store(self, copies):
        """Stores `copies` (owned native documents), their vectors taken from them too."""
        columns = {}
        for name in self._vector_fields:
            present = [(c.id, v) for c in copies for v in [self._vector_of(c, name)]
                       if v is not None]
            if present:
                ids = [doc_id for doc_id, _ in present]
                vectors = _as_vector_rows([v for _, v in present], f"field '{name}': doc")
                self._check_rows(name, ids, vectors)
                columns[name] = (ids, vectors)
        for name, (ids, vectors) in columns.items():
            self._vectors[name].upsert(ids, vectors)
        with_vector = {name: set(columns[name][0]) if name in columns else set()
                       for name in self._vector_fields}
        for copy in copies:
            doc_id = copy.id
            position = self._positions.get(doc_id)
            if position is None:
                self._positions[doc_id] = len(self._docs)
                self._docs.append(copy)
                continue
            self._docs[position] = copy
            for name in self._vector_fields:  # a replaced doc may have lost a vector
                if doc_id not in with_vector[name]:
                    self._vectors[name].remove(doc_id)

    @staticmethod
    def _handles(docs):
        """The native documents of `docs`; one without an id gets a fresh one, as reading its id
        through a document class would give it."""
        if isinstance(docs, BaseDoc):
            handles = [docs._doc]
        elif isinstance(docs, DocList):
            handles = list(docs._docs)
        else:
            handles = []
            for doc in docs:
                if not isinstance(doc, BaseDoc):
                    raise TypeError(f'InMemoryExactNNIndex.index: expected documents, got '
                                    f'{type(doc).__name__}')
                handles.append(doc._doc)
        for handle in handles:
            if not handle.id:
                handle.id = os.urandom(16).hex()
        return handles

    @staticmethod
    def _vector_of(handle, name):
        try:
            return handle.get(name)
        except KeyError:
            return None

    def _check_rows(self, name, ids, vectors):
        """ValueError naming the first bad document before anything is stored (the native index
        checks again, per row)."""
        dim = self._vectors[name].dim
        if dim and vectors.shape[1] != dim:
            raise ValueError(f"InMemoryExactNNIndex.index: doc '{ids[0]}': field '{name}' has "
                             f'dimension {vectors.shape[1]} but the index has dimension {dim}')
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            bad = ids[int(np.argmin(finite))]
            raise ValueError(f"InMemoryExactNNIndex.index: doc '{bad}' has a NaN or infinite "
                             f"value in field '{name}'")

    def __delitem__(self, key):
        """Deletes the document with id `key`, or those of a list of ids; KeyError naming the
        first id that is not stored, before any is deleted."""
        doc_ids = [key] if isinstance(key, str) else list(key)
        with self._lock:
            for doc_id in doc_ids:
                if doc_id not in self._positions:
                    raise KeyError(doc_id)
            for doc_id in doc_ids:
                self._delete(doc_id)

    def _delete(self, doc_id):
        position = self._positions.pop(doc_id, None)
        if position is not None:  # an id given twice is deleted once
            last = self._docs.pop()
            if position < len(self._docs):
                self._docs[position] = last
                self._positions[last.id] = position
            for vectors in self._vectors.values():
                vectors.remove(doc_id)

    def persist(self, file=None):
        """Writes the documents to `file` (default: the index_file_path given at construction)
        as a docarray DocListProto."""
        path = file or self._index_file_path
        if path is None:
            raise ValueError('InMemoryExactNNIndex.persist: no file given')
        with self._lock:
            data = self._all().to_bytes()
        with open(path, 'wb') as f:
            f.write(data)

    # --- reading ------------------------------------------------------------------------

    def __len__(self):
        with self._lock:
            return len(self._docs)

    def num_docs(self):
        return len(self)

    def __contains__(self, item):
        doc_id = item.id if isinstance(item, BaseDoc) else item
        with self._lock:
            return doc_id in self._positions

    def __getitem__(self, key):
        """A copy of the document with id `key`, or a DocList for a list of ids; KeyError when
        an id is not stored."""
        with self._lock:
            if isinstance(key, str):
                return self._schema._wrap(self._docs[self._position(key)].copy())
            return self._list([self._position(k) for k in key])

    def _position(self, doc_id):
        position = self._positions.get(doc_id)
        if position is None:
            raise KeyError(doc_id)
        return position

    def _list(self, positions):
        handle = _shoal.DocList()
        for position in positions:
            handle.append(self._docs[position])
        return DocList[self._schema]._wrap(handle)

    def _all(self):
        return self._list(range(len(self._docs)))

    def find(self, query, search_field='embedding', limit=10, **kwargs):
        """The `limit` stored documents nearest to `query` (a document, whose `search_field` is
        used, or a vector) by cosine similarity: FindResult(documents, scores), best first."""
        if isinstance(query, DocList):
            raise TypeError('InMemoryExactNNIndex.find takes one query; use find_batched')
        self._check_field(search_field)
        queries = self._query_rows([query], search_field)
        documents, scores = self._search(search_field, queries, limit)
        return FindResult(documents=documents[0], scores=scores[0])

    def find_batched(self, queries, search_field='embedding', limit=10, **kwargs):
        """find() for each of `queries` (a DocList, a list of documents or vectors, or a 2-d
        array): FindResultBatched(documents=[DocList, ...], scores=[array, ...])."""
        self._check_field(search_field)
        rows = self._query_rows(queries, search_field)
        documents, scores = self._search(search_field, rows, limit)
        return FindResultBatched(documents=documents, scores=scores)

    def _check_field(self, search_field):
        if search_field not in self._vectors:  # fixed at construction
            raise ValueError(f'InMemoryExactNNIndex.find: {search_field!r} is not a tensor field '
                             f'of {self._schema.__name__} (tensor fields: '
                             f"{', '.join(self._vector_fields) or 'none'})")

    def _search_vectors(self, search_field):
        vectors = self._vectors[search_field]  # find() and find_batched() checked the name
        if len(vectors) != len(self._docs):
            missing = next(d.id for d in self._docs if vectors.row_of(d.id) is None)
            raise ValueError(
                f'InMemoryExactNNIndex.find: {len(self._docs) - len(vectors)} of '
                f"{len(self._docs)} indexed docs have no {search_field} (e.g. doc '{missing}')")
        return vectors

    @staticmethod
    def _query_rows(queries, search_field):
        if isinstance(queries, np.ndarray) and queries.ndim == 2:
            return np.asarray(queries, dtype=np.float32)
        values = []
        for query in queries:
            if isinstance(query, BaseDoc):
                value = getattr(query, search_field, None)
                if value is None:
                    raise ValueError(f"InMemoryExactNNIndex.find: query doc '{query.id}' has no "
                                     f'{search_field}')
                values.append(value)
            else:
                values.append(query)
        return _as_vector_rows(values, 'InMemoryExactNNIndex.find: query')

    def _search(self, search_field, queries, limit):
        if limit is None or int(limit) < 0:
            raise ValueError(f'InMemoryExactNNIndex.find: limit must be a non-negative integer, '
                             f'got {limit!r}')
        with self._lock:
            vectors = self._search_vectors(search_field)
            if len(vectors) == 0:
                empty = [DocList[self._schema]() for _ in range(len(queries))]
                return empty, [np.zeros(0) for _ in range(len(queries))]
            rows, scores = vectors.search(queries, int(limit))
            documents = [
                self._list([self._positions[vectors.id(int(row))] for row in query_rows])
                for query_rows in rows
            ]
        return documents, list(scores)

    def filter(self, *args, **kwargs):
        raise NotImplementedError('InMemoryExactNNIndex.filter is not supported by Shoal')

    def text_search(self, *args, **kwargs):
        raise NotImplementedError('InMemoryExactNNIndex.text_search is not supported by Shoal')
