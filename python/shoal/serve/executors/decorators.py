"""``from shoal.serve.executors.decorators import write, requests``, as Jina spells it."""
from shoal.executor import requests, write

__all__ = ['requests', 'write']
