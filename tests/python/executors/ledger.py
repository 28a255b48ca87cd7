"""A stateful Python Executor for the fault tests: a dict of texts by doc id and a count of the
write requests applied, both written through Raft and kept in its snapshots."""
import hashlib
import json

from shoal import Executor, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc
from shoal.serve.executors.decorators import write


class LedgerDoc(TextDoc):
    checksum: str = ''


class Ledger(Executor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._texts = {}
        self._applied = 0

    @requests(on='/index')
    @write
    def index(self, docs: DocList[LedgerDoc], **kwargs):
        self._applied += 1
        for doc in docs:
            self._texts[doc.id] = doc.text

    @requests(on='/count')
    def count(self, docs: DocList[LedgerDoc], **kwargs):
        """One doc: the number of texts, and a checksum of every text and the applied count."""
        digest = hashlib.sha256(str(self._applied).encode())
        for key in sorted(self._texts):
            digest.update(f'\0{key}\0{self._texts[key]}'.encode())
        docs.append(LedgerDoc(text=str(len(self._texts)), checksum=digest.hexdigest()))

    @requests(on='/get')
    def get(self, docs: DocList[LedgerDoc], **kwargs):
        for doc in docs:
            doc.text = self._texts.get(doc.id)

    def snapshot(self, snapshot_file):
        with open(snapshot_file, 'w') as f:
            json.dump({'applied': self._applied, 'texts': self._texts}, f)

    def restore(self, snapshot_file):
        with open(snapshot_file) as f:
            state = json.load(f)
        self._applied = state['applied']
        self._texts = state['texts']
        self.logger.info('restored %d texts, %d writes applied', len(self._texts), self._applied)
