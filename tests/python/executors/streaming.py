"""Streaming endpoints as Jina writes them: generators taking one `doc`."""
import asyncio

from shoal import Executor, requests
from shoal.docarray import BaseDoc


class Prompt(BaseDoc):
    text: str = ''


class Token(BaseDoc):
    text: str = ''
    index: int = 0


class Generator(Executor):
    @requests(on='/tokens')
    def tokens(self, doc: Prompt, parameters=None, **kwargs):
        n = int((parameters or {}).get('n', 3))
        i = 0
        try:
            for i in range(n):
                if i == (parameters or {}).get('fail_at'):
                    raise ValueError(f'no token {i}')
                yield Token(text=f'{doc.text} {i}', index=i)
        finally:
            self.logger.info(f'tokens: generator closed after {i} of {n}')

    @requests(on='/async_tokens')
    async def async_tokens(self, doc: Prompt, **kwargs):
        for i in range(3):
            await asyncio.sleep(0)
            yield Token(text=f'{doc.text} async {i}', index=i)

    @requests(on='/echo')
    def echo(self, docs, **kwargs):
        for d in docs:
            d.text = d.text + ' echoed'
