"""A Python Executor the Jina compatibility checks serve behind a Flow: it edits the docs in place
(uppercased text, doubled embedding, the replica's name) and reports through __results__."""
from typing import Optional

from shoal import Executor, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


class ServedDoc(TextDoc):
    served_by: Optional[str] = None


class Shout(Executor):
    @requests(on='/shout')
    def shout(self, docs: DocList[ServedDoc], parameters, **kwargs):
        for doc in docs:
            doc.text = doc.text.upper() + parameters.get('suffix', '')
            doc.embedding = doc.embedding * 2
            doc.served_by = self.runtime_args.name
        return {'shouted': len(docs)}

    @requests(on='/fail')
    def fail(self, docs: DocList[ServedDoc], **kwargs):
        raise ValueError(f'refused {len(docs)} docs')
