from shoal import Executor, requests


class Broken(Executor):
    @requests
    def echo(self, docs, **kwargs)
        return None
