"""docarray's document indexes: the in-memory exact nearest-neighbour one, searched in C++."""

from shoal.docarray.index.backends.in_memory import InMemoryExactNNIndex

__all__ = ['InMemoryExactNNIndex']
