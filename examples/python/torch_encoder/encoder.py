"""A small text encoder in torch: hashed word tokens -> nn.EmbeddingBag -> a 128-d embedding.

The weights are random but seeded, so every replica computes the same embedding for a text."""
import os
import zlib
from typing import Optional

# One thread per replica: replicas share the machine's cores.
os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np
import torch

from shoal import Executor, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


class EncodedDoc(TextDoc):
    """A text, its embedding and the replica of the encoder that computed it."""

    encoded_by: Optional[int] = None


class TorchEncoder(Executor):
    def __init__(self, dim=128, buckets=4096, seed=0, *args, **kwargs):
        super().__init__(*args, **kwargs)
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.buckets = buckets
        self.model = torch.nn.EmbeddingBag(buckets, dim, mode='mean')
        self.model.eval()

    def _token_ids(self, text):
        # crc32, not hash(): Python's str hash differs from one process (replica) to another.
        words = (text or '').lower().split() or ['']
        return [zlib.crc32(w.encode()) % self.buckets for w in words]

    @requests
    def encode(self, docs: DocList[EncodedDoc], **kwargs):
        if len(docs) == 0:
            return
        ids, offsets = [], []
        for doc in docs:
            offsets.append(len(ids))
            ids.extend(self._token_ids(doc.text))
        with torch.no_grad():
            vectors = self.model(torch.tensor(ids), torch.tensor(offsets)).numpy()
        for doc, vector in zip(docs, vectors):
            doc.embedding = np.ascontiguousarray(vector, dtype=np.float32)
            doc.encoded_by = self.runtime_args.replica_id
