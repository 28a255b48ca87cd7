"""Executors written in Python, shaped like Jina's: ``from shoal import Executor, requests, write``.

::

    class MyExecutor(Executor):
        def __init__(self, dim=128, *args, **kwargs):   # uses_with arrive as keyword arguments
            super().__init__(*args, **kwargs)

        @requests(on='/index')
        @write                                          # goes through Raft when stateful
        def index(self, docs: DocList[TextDoc], parameters, **kwargs):
            ...                                         # edit docs in place, or return a DocList

        @requests                                       # every other endpoint (/default)
        def other(self, docs, **kwargs): ...

A replica of ``shoal executor --uses x.py:MyExecutor`` serves it from the C++ runtime; the
decorators only mark the methods, which stay plain functions.
"""

import logging
import types

__all__ = ['Executor', 'dynamic_batching', 'requests', 'write']

DEFAULT_ENDPOINT = '/default'

# Attributes the decorators set on a method.
_ENDPOINTS_ATTR = '_shoal_endpoints'
_WRITE_ATTR = '_shoal_write'
_BATCHING_ATTR = '_shoal_batching'


def requests(func=None, *, on=None, **kwargs):
    """Binds a method to endpoints: ``@requests(on='/x')``, ``on=['/a', '/b']``, or bare
    ``@requests`` for every endpoint that has no method of its own (``/default``).

    Jina's other keywords (request_schema, response_schema) are accepted and not used: the
    document types come from the ``docs`` annotation.
    """
    if on is None:
        endpoints = [DEFAULT_ENDPOINT]
    elif isinstance(on, str):
        endpoints = [on]
    else:
        endpoints = list(on)
        if not all(isinstance(e, str) for e in endpoints):
            raise TypeError(f'@requests(on=...) takes a str or a list of str, got {on!r}')

    def mark(fn):
        if not callable(fn):
            raise TypeError(f'@requests decorates a method, not {fn!r}')
        existing = list(getattr(fn, _ENDPOINTS_ATTR, ()))
        setattr(fn, _ENDPOINTS_ATTR, existing + [e for e in endpoints if e not in existing])
        return fn

    if func is not None:
        return mark(func)
    return mark


def write(func):
    """Marks a method as changing the Executor's state: with ``stateful=True`` its requests go
    through the Raft log and every replica applies them in the same order."""
    if not callable(func):
        raise TypeError(f'@write decorates a method, not {func!r}')
    setattr(func, _WRITE_ATTR, True)
    return func


def _positive_int(name, value, optional=True):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f'@dynamic_batching: {name} must be a positive int'
                         f'{" or None" if optional else ""}, got {value!r}')
    return value


def dynamic_batching(func=None, *, preferred_batch_size=None, timeout=10_000, flush_all=False,
                     custom_metric=None, use_custom_metric=False, use_dynamic_batching=True,
                     max_queue_delay=None, max_batch_size=None, max_queue_size=None):
    """Batches the requests of the decorated endpoint method, as Jina's ``@dynamic_batching``:
    requests with the same endpoint and parameters wait in a queue, flushed when it holds
    ``preferred_batch_size`` documents or ``timeout`` ms after its first request; the method is
    then called once with the documents of all of them and must return one document per input,
    in order (each caller gets its own back). ``flush_all`` passes the whole queue in one call.

    Beyond Jina, as Triton: ``max_queue_delay`` (microseconds, replaces ``timeout``),
    ``max_batch_size`` (a larger request is split across calls) and ``max_queue_size`` (requests
    waiting; more are refused with RESOURCE_EXHAUSTED). ``custom_metric`` is not supported:
    batches are counted in documents. An Executor YAML's ``dynamic_batching:`` and a
    Deployment's ``uses_dynamic_batching`` replace these options per endpoint.
    """
    if custom_metric is not None or use_custom_metric:
        raise ValueError('@dynamic_batching: custom_metric is not supported by Shoal: batches '
                         'are counted in documents')
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f'@dynamic_batching: timeout must be a positive number of ms, '
                         f'got {timeout!r}')
    options = {
        'preferred_batch_size': _positive_int('preferred_batch_size', preferred_batch_size),
        'timeout': int(timeout),
        'flush_all': bool(flush_all),
        'max_queue_delay': _positive_int('max_queue_delay', max_queue_delay),
        'max_batch_size': _positive_int('max_batch_size', max_batch_size),
        'max_queue_size': _positive_int('max_queue_size', max_queue_size),
    }

    def mark(fn):
        if not callable(fn):
            raise TypeError(f'@dynamic_batching decorates a method, not {fn!r}')
        setattr(fn, _BATCHING_ATTR, options if use_dynamic_batching else None)
        return fn

    if func is not None:
        return mark(func)
    return mark


class Executor:
    """Base class of Python Executors.

    Inside a replica, ``metas``, ``runtime_args``, ``workspace`` and ``logger`` are set before
    ``__init__`` runs, so they are there even when a subclass does not call
    ``super().__init__``. Built directly (in a test), they get defaults from the arguments.
    """

    def __init__(self, metas=None, requests=None, runtime_args=None, workspace=None,
                 dynamic_batching=None, **kwargs):
        if not hasattr(self, 'metas'):
            name = type(self).__name__
            self.metas = _namespace(metas, name=name, workspace=workspace, py_modules=None,
                                    description=None)
            self.runtime_args = _namespace(runtime_args, name=self.metas.name, replica_id=0,
                                           shard_id=0, workspace=workspace)
            self.workspace = workspace or self.metas.workspace or self.runtime_args.workspace
            self.logger = logging.getLogger(self.metas.name)

    def close(self):
        """Called once before the replica exits."""

    def request_cancelled(self):
        """Whether the call being served has lost its caller: the client cancelled or
        disconnected, or its deadline passed. A long-running endpoint polls it and returns early
        (nobody reads its answer). False outside a replica, outside an endpoint call, and for
        writes applied from the Raft log, which must run to the end."""
        import _shoal

        check = getattr(_shoal, '_request_cancelled', None)
        return bool(check is not None and check())

    @classmethod
    def _endpoint_table(cls):
        """``[(endpoint, method name, write)]`` of the decorated methods, subclasses first."""
        table = {}
        owners = {}
        for name in dir(cls):
            fn = getattr(cls, name, None)
            endpoints = getattr(fn, _ENDPOINTS_ATTR, None)
            if not endpoints:
                continue
            for endpoint in endpoints:
                if endpoint in table and owners[endpoint] != name:
                    raise TypeError(f'{cls.__name__}: endpoint {endpoint!r} is bound to both '
                                    f'{owners[endpoint]}() and {name}()')
                table[endpoint] = (endpoint, name, bool(getattr(fn, _WRITE_ATTR, False)))
                owners[endpoint] = name
        return list(table.values())


def _namespace(given, **defaults):
    values = dict(defaults)
    if isinstance(given, dict):
        values.update(given)
    elif given is not None:
        values.update(vars(given))
    return types.SimpleNamespace(**values)
