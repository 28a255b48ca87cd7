"""A stateful Python Executor: documents by id, written through Raft, with snapshot/restore."""
import json

from shoal import Executor, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc
from shoal.serve.executors.decorators import write


class KeyValue(Executor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._docs = {}
        self.restored = 0

    @requests(on=['/index'])
    @write
    def index(self, docs: DocList[TextDoc], **kwargs):
        for doc in docs:
            self._docs[doc.id] = doc  # kept after the request: a copy of its own

    @requests(on=['/count'])
    def count(self, docs: DocList[TextDoc], **kwargs):
        docs.append(TextDoc(text=str(len(self._docs))))

    @requests(on=['/get'])
    def get(self, docs: DocList[TextDoc], **kwargs):
        for doc in docs:
            stored = self._docs.get(doc.id)
            doc.text = stored.text if stored is not None else None

    def snapshot(self, snapshot_file):
        with open(snapshot_file, 'w') as f:
            json.dump({k: v.text for k, v in self._docs.items()}, f)

    def restore(self, snapshot_file):
        with open(snapshot_file) as f:
            self._docs = {k: TextDoc(id=k, text=v) for k, v in json.load(f).items()}
        self.restored += 1
