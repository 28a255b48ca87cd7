"""``from shoal.serve.executors.decorators import dynamic_batching, requests, write``, as Jina
spells it."""
from shoal.executor import dynamic_batching, requests, write

__all__ = ['dynamic_batching', 'requests', 'write']
