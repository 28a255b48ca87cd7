"""Executors and their decorators, under Jina's module path (``jina.serve.executors``)."""
from shoal.executor import Executor, dynamic_batching, requests, write

__all__ = ['Executor', 'dynamic_batching', 'requests', 'write']
