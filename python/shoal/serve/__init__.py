"""Serving Executors: the replica-side runtime of Python Executors (Jina's ``jina.serve``)."""
