"""Streaming through a Flow, as Jina users write it: a generator Executor yields one token at a
time; each token also passes a dynamically batched Executor on its way; Jina's async client reads
them as they come.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/streaming_flow.py
"""
import asyncio

from shoal import Client, Executor, Flow, dynamic_batching, requests
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


class Tokens(Executor):
    @requests(on='/generate')
    async def generate(self, doc: TextDoc, **kwargs):
        for word in doc.text.split():
            await asyncio.sleep(0.05)  # a model producing its next token
            yield TextDoc(text=word)


class Shout(Executor):
    @requests(on='/generate')
    @dynamic_batching(preferred_batch_size=8, timeout=5)
    def shout(self, docs: DocList[TextDoc], **kwargs):
        for doc in docs:
            doc.text = doc.text.upper()


async def main(port):
    client = Client(port=port, asyncio=True)
    async for doc in client.stream_doc(on='/generate', return_type=TextDoc,
                                       inputs=TextDoc(text='hello from a streaming flow')):
        print(doc.text, flush=True)


if __name__ == '__main__':
    with Flow().add(name='tokens', uses=Tokens).add(name='shout', uses=Shout) as f:
        asyncio.run(main(f.port))
