"""InMemoryExactNNIndex (shoal.docarray.index) and the native _shoal.ExactNNIndex under it:
results against a numpy brute force on seeded random data, upserts, deletion, batched search,
the seed's ExactNNSearch pattern, and errors for bad input."""
import numpy as np
import pytest

import _shoal
from shoal.docarray import BaseDoc, DocList
from shoal.docarray.documents import ImageDoc, TextDoc
from shoal.docarray.index import InMemoryExactNNIndex
from shoal.docarray.index.backends.in_memory import InMemoryExactNNIndex as FromBackends
from shoal.docarray.typing import NdArray


class QueryDoc(TextDoc):
    matches: DocList[TextDoc] = DocList[TextDoc]()


def random_docs(n, dim, seed, prefix='d'):
    rng = np.random.default_rng(seed)
    return DocList[TextDoc](
        [TextDoc(id=f'{prefix}{i}', text=f'text {i}', embedding=rng.random(dim) - 0.5)
         for i in range(n)])


def as_stored(vectors):
    """The vectors as the index holds them: float32 values, scored in double precision."""
    return np.asarray(vectors, dtype=np.float32).astype(np.float64)


def brute_force(docs, query, limit):
    """(ids, cosine similarities) of the `limit` + 1 docs nearest to `query`, best first."""
    matrix = as_stored(np.stack(docs.embedding))
    query = as_stored(query)
    sims = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    order = np.argsort(-sims, kind='stable')[:limit + 1]
    return [docs[int(i)].id for i in order], sims[order]


def assert_ranking(ids, scores, expected_ids, expected_scores):
    """Same ranking as the brute force, up to the order of scores equal within rounding."""
    n = len(ids)
    np.testing.assert_allclose(scores, expected_scores[:n], rtol=0, atol=1e-6)
    for i in range(n):
        if ids[i] != expected_ids[i]:
            neighbours = [expected_scores[j] for j in (i - 1, i + 1)
                          if 0 <= j < len(expected_scores)]
            assert any(abs(expected_scores[i] - x) < 1e-6 for x in neighbours), (i, ids)


def test_find_matches_numpy_brute_force():
    docs = random_docs(500, 32, seed=1)
    index = InMemoryExactNNIndex[TextDoc]()
    index.index(docs)
    assert len(index) == 500 and index.num_docs() == 500
    rng = np.random.default_rng(2)
    for _ in range(20):
        query = rng.random(32) - 0.5
        result = index.find(query, search_field='embedding', limit=10)
        assert len(result.documents) == 10
        assert_ranking(result.documents.id, result.scores, *brute_force(docs, query, 10))
        found, scores = result  # unpacks as docarray's FindResult
        assert isinstance(found, DocList[TextDoc]) and found is result.documents
        assert list(scores) == sorted(scores, reverse=True)


def test_find_with_a_query_document_and_the_seed_executor_pattern():
    docs = random_docs(200, 16, seed=3)
    index = InMemoryExactNNIndex[TextDoc]()
    for start in range(0, 200, 50):
        index.index(docs[start:start + 50])
    queries = DocList[QueryDoc]([QueryDoc(text='q', embedding=d.embedding) for d in docs[:5]])
    for query in queries:
        docs_found, scores = index.find(query, search_field='embedding', limit=3)
        query.matches = docs_found
    for i, query in enumerate(queries):
        assert query.matches[0].id == f'd{i}'  # a doc is its own nearest neighbour
        assert query.matches[0].text == f'text {i}'
        assert len(query.matches) == 3


def test_limit_larger_than_the_index_and_an_empty_index():
    index = InMemoryExactNNIndex[TextDoc]()
    docs, scores = index.find(np.ones(4), limit=5)
    assert len(docs) == 0 and len(scores) == 0
    index.index(random_docs(3, 4, seed=4))
    docs, scores = index.find(np.ones(4), limit=10)
    assert len(docs) == 3 and len(scores) == 3
    assert len(index.find(np.ones(4), limit=0).documents) == 0


def test_find_batched_matches_find():
    docs = random_docs(300, 24, seed=5)
    index = InMemoryExactNNIndex[TextDoc](docs)
    queries = np.random.default_rng(6).random((7, 24)) - 0.5
    batched = index.find_batched(queries, search_field='embedding', limit=4)
    documents, scores = batched
    assert len(documents) == 7 and len(scores) == 7
    for i, query in enumerate(queries):
        single = index.find(query, limit=4)
        assert documents[i].id == single.documents.id
        np.testing.assert_allclose(scores[i], single.scores)
    as_docs = DocList[TextDoc]([TextDoc(embedding=q) for q in queries])
    assert index.find_batched(as_docs, limit=4).documents[3].id == documents[3].id


def test_index_upserts_by_id_and_keeps_copies():
    index = InMemoryExactNNIndex[TextDoc]()
    doc = TextDoc(id='a', text='first', embedding=np.array([1.0, 0.0]))
    index.index(doc)
    doc.text = 'edited after indexing'
    assert index['a'].text == 'first'
    index.index(TextDoc(id='a', text='second', embedding=np.array([0.0, 1.0])))
    index.index(TextDoc(id='b', text='other', embedding=np.array([1.0, 0.0])))
    assert len(index) == 2
    assert index['a'].text == 'second'
    found, scores = index.find(np.array([0.0, 1.0]), limit=1)
    assert found.id == ['a'] and scores[0] == pytest.approx(1.0)
    assert index[['b', 'a']].text == ['other', 'second']
    assert 'a' in index and doc in index and 'zzz' not in index


def test_delete_by_id():
    docs = random_docs(50, 8, seed=7)
    index = InMemoryExactNNIndex[TextDoc](docs)
    del index['d0']
    del index[['d1', 'd2']]
    assert len(index) == 47 and 'd0' not in index
    with pytest.raises(KeyError):
        index['d0']
    with pytest.raises(KeyError):
        del index['d0']
    remaining = docs[3:]
    query = np.random.default_rng(8).random(8) - 0.5
    found = index.find(query, limit=5)
    assert_ranking(found.documents.id, found.scores, *brute_force(remaining, query, 5))


def test_other_tensor_fields_can_be_searched():
    class Item(BaseDoc):
        vec: NdArray[3]

    index = InMemoryExactNNIndex[Item]()
    index.index(DocList[Item]([Item(id='x', vec=np.array([1, 0, 0])),
                               Item(id='y', vec=np.array([0, 1, 0]))]))
    assert index.find(np.array([0.1, 1, 0]), search_field='vec', limit=1).documents.id == ['y']
    with pytest.raises(ValueError, match="'embedding' is not a tensor field of Item"):
        index.find(np.ones(3))


def test_wrong_dimension_is_an_error_naming_the_doc_and_stores_nothing():
    index = InMemoryExactNNIndex[TextDoc](random_docs(5, 8, seed=9))
    bad = DocList[TextDoc]([TextDoc(id='ok', embedding=np.ones(8)),
                            TextDoc(id='short', embedding=np.ones(4))])
    with pytest.raises(ValueError, match=r'dimensions \[4, 8\]'):
        index.index(bad)
    with pytest.raises(ValueError, match="doc 'wide': field 'embedding' has dimension 9 but "
                       'the index has dimension 8'):
        index.index(TextDoc(id='wide', embedding=np.ones(9)))
    assert len(index) == 5 and 'ok' not in index
    with pytest.raises(ValueError, match='dimension 3 but the index has dimension 8'):
        index.find(np.ones(3))


def test_missing_and_invalid_embeddings_are_errors():
    index = InMemoryExactNNIndex[TextDoc](random_docs(3, 4, seed=10))
    index.index(TextDoc(id='no-embedding', text='t'))
    with pytest.raises(ValueError, match="1 of 4 indexed docs have no embedding "
                       r"\(e.g. doc 'no-embedding'\)"):
        index.find(np.ones(4))
    del index['no-embedding']
    with pytest.raises(ValueError, match="query doc '.*' has no embedding"):
        index.find(TextDoc(text='query without embedding'))
    with pytest.raises(ValueError, match="doc 'nan' has a NaN or infinite value"):
        index.index(TextDoc(id='nan', embedding=np.array([1, np.nan, 0, 0])))
    with pytest.raises(ValueError, match='limit must be a non-negative integer'):
        index.find(np.ones(4), limit=-1)
    with pytest.raises(TypeError, match='use find_batched'):
        index.find(random_docs(2, 4, seed=11))
    with pytest.raises(TypeError, match='needs a schema'):
        InMemoryExactNNIndex()


def test_replacing_a_doc_without_its_embedding_drops_it_from_search():
    index = InMemoryExactNNIndex[ImageDoc]()
    index.index(ImageDoc(id='a', embedding=np.ones(2), tensor=np.ones(3)))
    index.index(ImageDoc(id='a', embedding=np.ones(2)))
    with pytest.raises(ValueError, match="no tensor"):
        index.find(np.ones(3), search_field='tensor')
    assert index.find(np.ones(2)).documents.id == ['a']


def test_persist_and_reload(tmp_path):
    path = tmp_path / 'index.bin'
    docs = random_docs(20, 6, seed=12)
    index = InMemoryExactNNIndex[TextDoc](docs, index_file_path=str(path))
    index.persist()
    again = InMemoryExactNNIndex[TextDoc](index_file_path=str(path))
    query = np.ones(6)
    assert again.find(query).documents.id == index.find(query).documents.id


def test_backends_path_is_the_same_class():
    assert FromBackends is InMemoryExactNNIndex


def test_native_index_directly():
    index = _shoal.ExactNNIndex()
    rows = index.upsert(['a', 'b'], np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert list(rows) == [0, 1] and len(index) == 2 and index.dim == 2
    found, scores = index.search(np.array([[1.0, 0.2]]), 5)
    assert found.shape == (1, 2) and [index.id(int(r)) for r in found[0]] == ['a', 'b']
    assert index.remove('a') == 0 and index.remove('a') is None and index.row_of('b') == 0
    with pytest.raises(ValueError, match="metric must be 'cosine' or 'l2'"):
        _shoal.ExactNNIndex('dot')
    with pytest.raises(ValueError, match='2 ids but 1 vectors'):
        index.upsert(['x', 'y'], np.ones((1, 2)))
    with pytest.raises(ValueError, match='must be a 2-d array'):
        index.search(np.ones(2), 1)
    l2 = _shoal.ExactNNIndex('l2')
    l2.upsert(['near', 'far'], np.array([[1.0, 1.0], [5.0, 5.0]]))
    found, scores = l2.search(np.array([[0.0, 0.0]]), 2)
    assert [l2.id(int(r)) for r in found[0]] == ['near', 'far']
    np.testing.assert_allclose(scores[0], [np.sqrt(2), np.sqrt(50)])


def test_ten_thousand_docs_and_a_hundred_queries():
    # The seed's sizes: 10,000 x 128 indexed in requests of 100, then 100 queries of 10.
    docs = random_docs(10_000, 128, seed=13)
    index = InMemoryExactNNIndex[TextDoc]()
    for start in range(0, 10_000, 100):
        index.index(docs[start:start + 100])
    assert len(index) == 10_000
    queries = np.random.default_rng(14).random((100, 128)) - 0.5
    batched = index.find_batched(queries, limit=10)
    matrix = as_stored(np.stack(docs.embedding))
    stored_queries = as_stored(queries)
    sims = (stored_queries @ matrix.T) / np.outer(np.linalg.norm(stored_queries, axis=1),
                                                  np.linalg.norm(matrix, axis=1))
    expected = np.argsort(-sims, axis=1, kind='stable')[:, :11]
    for i in range(100):
        assert_ranking(batched.documents[i].id, batched.scores[i],
                       [f'd{j}' for j in expected[i]], sims[i, expected[i]])
        single = index.find(queries[i], limit=10)
        assert single.documents.id == batched.documents[i].id


def test_searches_on_one_thread_while_another_indexes_and_deletes():
    # Searches run without the GIL while another thread writes: a search sees the index before
    # or after a write, never a document whose vector is stored but not yet the document (that
    # raised StopIteration) or one that was deleted. Switching threads every microsecond makes
    # the window between the two stores one that the searching thread meets.
    import sys
    import threading
    index = InMemoryExactNNIndex[TextDoc](random_docs(100, 64, seed=15, prefix='base'))
    errors = []
    done = threading.Event()

    def search():
        try:
            for _ in range(20000):
                if done.is_set():
                    break
                found = index.find_batched(np.ones((4, 64)), limit=5)
                assert all(len(docs) == 5 for docs in found.documents)
        except Exception as e:  # reported below
            errors.append(e)

    interval = sys.getswitchinterval()
    thread = threading.Thread(target=search)
    sys.setswitchinterval(1e-6)
    try:
        thread.start()
        for batch in range(100):
            index.index(random_docs(20, 64, seed=100 + batch, prefix=f'b{batch}-'))
            if batch % 2:
                del index[[f'b{batch - 1}-{i}' for i in range(10)]]
    finally:
        done.set()
        thread.join(timeout=120)
        sys.setswitchinterval(interval)
    assert not thread.is_alive() and not errors, errors
    assert len(index) == 100 + 100 * 20 - 50 * 10


def test_documents_without_ids_get_distinct_ones():
    index = InMemoryExactNNIndex[TextDoc]()
    handles = _shoal.DocList()
    for i in range(3):
        handle = _shoal.Doc()
        handle.set('embedding', np.array([1.0, float(i)]))
        handles.append(handle)
    index.index(DocList[TextDoc]._wrap(handles))
    assert len(index) == 3
    assert len({doc.id for doc in index.find(np.ones(2)).documents}) == 3


def test_non_finite_queries_are_errors():
    index = InMemoryExactNNIndex[TextDoc](random_docs(3, 2, seed=16))
    with pytest.raises(ValueError, match="query '#0' has a NaN or infinite value"):
        index.find(np.array([np.inf, 1.0]))
