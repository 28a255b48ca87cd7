"""Executors that look at how documents reach Python (views over the request, copies after)."""
import numpy as np

from shoal import Executor, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


class Address(Executor):
    """Writes the address of each embedding's first byte into the doc's text, then doubles it."""

    @requests
    def address(self, docs: DocList[TextDoc], **kwargs):
        for doc in docs:
            doc.text = str(doc.embedding.__array_interface__['data'][0])
            doc.embedding[:] = doc.embedding * 2


class Keeper(Executor):
    """Keeps the first doc of /keep and an embedding; /read answers what it kept."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kept = None
        self.array = None
        self.handle = None

    @requests(on='/keep')
    def keep(self, docs: DocList[TextDoc], **kwargs):
        self.kept = docs[0]
        self.array = docs[0].embedding
        self.handle = docs

    @requests(on='/read')
    def read(self, docs: DocList[TextDoc], **kwargs):
        out = docs[0]
        out.text = f'{self.kept.text}|{float(np.sum(self.array))}|{len(self.handle)}'

    @requests(on='/matches')
    def matches(self, docs: DocList[TextDoc], **kwargs):
        return docs._docs[0].doc_list('matches')
