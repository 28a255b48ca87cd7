"""The Python twin of the built-in C++ Echo, for bench/run section p: returns the docs and sets
each doc's `served_by` to the replica's name."""
from shoal import Executor, requests


class PyEcho(Executor):
    @requests
    def echo(self, docs, **kwargs):
        name = self.runtime_args.name
        for doc in docs:
            doc.served_by = name
