"""Index backends: ``in_memory.InMemoryExactNNIndex``."""
