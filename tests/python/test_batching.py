"""Dynamic batching of Python Executors: the @dynamic_batching decorator, an Executor YAML's
dynamic_batching and a Deployment's uses_dynamic_batching (which wins), as Jina's. The Executor
records the size of every call it gets, read back through /sizes."""
import textwrap

import pytest

from shoal import Deployment, Executor, dynamic_batching, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc
from shoal.serve.executors.decorators import dynamic_batching as jina_path_dynamic_batching


def text_docs(n, prefix='d'):
    return DocList[TextDoc]([TextDoc(text=f'{prefix}{i}') for i in range(n)])


class Recorder(Executor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sizes = []

    @requests(on='/embed')
    @dynamic_batching(preferred_batch_size=4, timeout=60_000)
    def embed(self, docs, parameters, **kwargs):
        self.sizes.append(len(docs))
        for doc in docs:
            doc.text = doc.text + '|' + parameters.get('tag', '')

    @requests(on='/sizes')
    def report(self, docs, **kwargs):
        docs[0].text = ','.join(str(size) for size in self.sizes)


def sizes(dep):
    return dep.post('/sizes', text_docs(1), return_type=DocList[TextDoc])[0].text


def test_the_decorator_batches_concurrent_requests_and_answers_each_its_own_docs():
    with Deployment(uses=Recorder) as dep:
        docs = dep.post('/embed', text_docs(16), request_size=1, parameters={'tag': 't'},
                        results_in_order=True, return_type=DocList[TextDoc])
        assert [d.text for d in docs] == [f'd{i}|t' for i in range(16)]
        assert sizes(dep) == '4,4,4,4'


def test_uses_dynamic_batching_replaces_the_decorator():
    with Deployment(uses=Recorder,
                    uses_dynamic_batching={'/embed': {'preferred_batch_size': 2,
                                                      'timeout': 60_000}}) as dep:
        docs = dep.post('/embed', text_docs(8), request_size=1, results_in_order=True,
                        return_type=DocList[TextDoc])
        assert [d.text for d in docs] == [f'd{i}|' for i in range(8)]
        assert sizes(dep) == '2,2,2,2'


def test_an_executor_yaml_dynamic_batching_applies(tmp_path):
    (tmp_path / 'rec.py').write_text(textwrap.dedent('''\
        from shoal import Executor, requests

        class PlainRecorder(Executor):
            sizes = []

            @requests(on='/embed')
            def embed(self, docs, **kwargs):
                self.sizes.append(len(docs))

            @requests(on='/sizes')
            def report(self, docs, **kwargs):
                docs[0].text = ','.join(str(size) for size in self.sizes)
        '''))
    (tmp_path / 'rec.yml').write_text(
        'jtype: PlainRecorder\npy_modules:\n  - rec.py\n'
        'dynamic_batching:\n  /embed: {preferred_batch_size: 3, timeout: 60000}\n')
    with Deployment(uses=str(tmp_path / 'rec.yml')) as dep:
        dep.post('/embed', text_docs(6), request_size=1)
        assert sizes(dep) == '3,3'


def test_an_endpoint_the_executor_does_not_have_fails_the_start():
    dep = Deployment(uses=Recorder, uses_dynamic_batching={'/nope': {'preferred_batch_size': 2}})
    with pytest.raises(RuntimeError, match="'/nope'"):
        dep.start()


def test_the_decorator_refuses_what_shoal_does_not_do():
    assert jina_path_dynamic_batching is dynamic_batching
    with pytest.raises(ValueError, match='custom_metric'):
        dynamic_batching(custom_metric=len)
    with pytest.raises(ValueError, match='preferred_batch_size'):
        dynamic_batching(preferred_batch_size=0)
    with pytest.raises(ValueError, match='timeout'):
        dynamic_batching(timeout=-1)
