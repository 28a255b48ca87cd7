"""Python Executors for the replica tests: each class is one behaviour a test checks."""
import asyncio
import os
import sys
import time

import numpy as np

from shoal import Executor, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


class Echo(Executor):
    """Returns the docs untouched, tagging each with the replica that served it."""

    @requests
    def echo(self, docs, **kwargs):
        self.logger.info('echoing %d docs', len(docs))
        for doc in docs:
            doc.tags = {'served_by': self.runtime_args.name}


class Scale(Executor):
    """Doubles each embedding in place (the numpy array is the request's memory)."""

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    @requests(on='/scale')
    def scale(self, docs: DocList[TextDoc], parameters, **kwargs):
        for doc in docs:
            doc.embedding[:] = doc.embedding * self.factor
        return {'scaled': len(docs), 'factor': self.factor, 'asked': parameters.get('tag')}

    @requests(on='/shares')
    def shares(self, docs: DocList[TextDoc], **kwargs):
        """Says whether the embedding shares memory with the message it came in."""
        for doc in docs:
            first = doc.embedding
            doc.text = str(first.base is not None and np.shares_memory(first, doc.embedding))


class Replace(Executor):
    """Answers with new documents instead of the request's."""

    @requests(on='/replace')
    def replace(self, docs: DocList[TextDoc], **kwargs):
        out = DocList[TextDoc]()
        for doc in docs:
            out.append(TextDoc(id=doc.id + '-new', text=(doc.text or '') + '!'))
            out.append(TextDoc(text='extra'))
        return out

    @requests(on='/first')
    def first(self, docs: DocList[TextDoc], **kwargs):
        return docs[:1]


class Faulty(Executor):
    """Raises on /fail, answers on any other endpoint."""

    @requests(on='/fail')
    def fail(self, docs, parameters, **kwargs):
        raise ValueError('bad input', parameters.get('why'))

    @requests
    def ok(self, docs, **kwargs):
        print('served', len(docs))
        for doc in docs:
            doc.text = 'fine'

    @requests(on='/async')
    async def later(self, docs, **kwargs):
        await asyncio.sleep(0)
        for doc in docs:
            doc.text = 'awaited'


class Environ(Executor):
    """Reports what the replica's environment and runtime say."""

    @requests
    def report(self, docs, **kwargs):
        for doc in docs:
            doc.tags = {
                'cuda': os.environ.get('CUDA_VISIBLE_DEVICES', ''),
                'name': self.metas.name,
                'replica_id': self.runtime_args.replica_id,
                'shard_id': self.runtime_args.shard_id,
                'workspace': self.workspace or '',
                'builtin_shoal': '_shoal' in sys.builtin_module_names,
            }


class Patient(Executor):
    """`/wait` waits (at most a minute) until its caller is gone; `/report` tells how the last
    wait ended."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last = 'none'

    @requests(on='/wait')
    def wait(self, docs, **kwargs):
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.request_cancelled():
                self.last = 'cancelled'
                return
            time.sleep(0.001)
        self.last = 'timed out'

    @requests(on='/report')
    def report(self, docs, **kwargs):
        for doc in docs:
            doc.text = self.last
