"""Executors and their decorators, under Jina's module path (``jina.serve.executors``)."""
from shoal.executor import Executor, requests, write

__all__ = ['Executor', 'requests', 'write']
