"""Streaming endpoints in Python: generator methods (def and async def) served over stream_doc,
read with Client.stream_doc (async for, as Jina's, and for), through a Deployment and a Flow;
an error mid-stream, a consumer that stops early, discovery's is_generator, and load errors."""
import asyncio
import os
import time

import pytest

from shoal import Client, Deployment, Executor, Flow, requests, write
from shoal.client import BadServer
from shoal.docarray.documents import TextDoc
from shoal.serve import runtime

HERE = os.path.dirname(os.path.abspath(__file__))
USES = os.path.join(HERE, 'executors', 'streaming.py') + ':Generator'


@pytest.fixture(scope='module')
def dep():
    with Deployment(name='gen', uses=USES) as d:
        yield d


def test_a_generator_streams_each_document_with_for(dep):
    client = Client(port=dep.port)
    texts = [d.text for d in client.stream_doc(on='/tokens', inputs=TextDoc(text='hi'),
                                               parameters={'n': 4}, return_type=TextDoc)]
    assert texts == ['hi 0', 'hi 1', 'hi 2', 'hi 3']


def test_async_for_reads_sync_and_async_generators_as_jina_clients_do(dep):
    client = Client(port=dep.port)

    async def read(on):
        return [d.text async for d in client.stream_doc(on=on, inputs=TextDoc(text='x'),
                                                         return_type=TextDoc)]

    assert asyncio.run(read('/tokens')) == ['x 0', 'x 1', 'x 2']
    assert asyncio.run(read('/async_tokens')) == ['x async 0', 'x async 1', 'x async 2']


def test_a_normal_endpoint_through_stream_doc_answers_its_doc(dep):
    client = Client(port=dep.port)
    docs = list(client.stream_doc(on='/echo', inputs=TextDoc(text='a'), return_type=TextDoc))
    assert [d.text for d in docs] == ['a echoed']


def test_an_error_mid_stream_is_raised_after_the_docs_before_it(dep):
    client = Client(port=dep.port)
    seen = []
    with pytest.raises(BadServer, match='no token 2'):
        for d in client.stream_doc(on='/tokens', inputs=TextDoc(text='e'),
                                   parameters={'n': 5, 'fail_at': 2}, return_type=TextDoc):
            seen.append(d.text)
    assert seen == ['e 0', 'e 1']


def test_a_consumer_that_stops_cancels_the_generator(dep):
    client = Client(port=dep.port)
    stream = client.stream_doc(on='/tokens', inputs=TextDoc(text='s'),
                               parameters={'n': 10_000_000}, return_type=TextDoc)
    first = [next(stream).text for _ in range(2)]
    stream.close()
    assert first == ['s 0', 's 1']
    # The replica serves the next call: the generator was stopped, not run to its end.
    deadline = time.monotonic() + 20
    texts = []
    while time.monotonic() < deadline:
        texts = [d.text for d in client.stream_doc(on='/tokens', inputs=TextDoc(text='n'),
                                                   parameters={'n': 1}, return_type=TextDoc,
                                                   timeout=5)]
        if texts:
            break
    assert texts == ['n 0']


def test_through_a_flow_each_token_goes_through_the_next_executor():
    with Flow().add(name='gen', uses=USES).add(name='post', uses='Echo') as flow:
        client = Client(port=flow.port)
        docs = list(client.stream_doc(on='/tokens', inputs=TextDoc(text='f'),
                                      parameters={'n': 3}))
        assert [d.text for d in docs] == ['f 0', 'f 1', 'f 2']
        assert all(d._doc.get('served_by') == 'post/rep-0' for d in docs)


def test_generator_endpoints_are_marked_and_checked_at_load(tmp_path):
    hosted = runtime.load(USES, [USES.split(':')[0]], 'Generator', [], {}, '', '', 'gen/rep-0',
                          '')
    kinds = {e.name: e.is_generator for e in hosted.endpoints}
    assert kinds == {'/tokens': True, '/async_tokens': True, '/echo': False}

    bad = tmp_path / 'bad.py'
    bad.write_text('from shoal import Executor, requests, write\n'
                   'class Bad(Executor):\n'
                   '    @requests(on="/w")\n'
                   '    @write\n'
                   '    def w(self, doc, **kwargs):\n'
                   '        yield doc\n')
    with pytest.raises(runtime.LoadError, match='generator and @write'):
        runtime.load(str(bad), [str(bad)], 'Bad', [], {}, '', '', 'bad/rep-0', '')
    nodoc = tmp_path / 'nodoc.py'
    nodoc.write_text('from shoal import Executor, requests\n'
                     'class NoDoc(Executor):\n'
                     '    @requests(on="/g")\n'
                     '    def g(self, docs):\n'
                     '        yield docs\n')
    with pytest.raises(runtime.LoadError, match='must take `doc`'):
        runtime.load(str(nodoc), [str(nodoc)], 'NoDoc', [], {}, '', '', 'nd/rep-0', '')


def test_an_asyncio_client_posts_as_jinas_async_client_does(dep):
    client = Client(port=dep.port, asyncio=True)
    docs = [TextDoc(text=f'd{i}') for i in range(5)]
    seen = []

    async def read():
        answers = []
        async for answer in client.post('/echo', inputs=docs, request_size=2,
                                        results_in_order=True, return_type=TextDoc,
                                        on_done=lambda r: seen.append(r.request_id)):
            answers.append([d.text for d in answer])
        streamed = [d.text async for d in client.stream_doc(on='/tokens', inputs=TextDoc(text='y'),
                                                            return_type=TextDoc)]
        return answers, streamed

    answers, streamed = asyncio.run(read())
    assert answers == [['d0 echoed', 'd1 echoed'], ['d2 echoed', 'd3 echoed'], ['d4 echoed']]
    assert len(seen) == 3
    assert streamed == ['y 0', 'y 1', 'y 2']
