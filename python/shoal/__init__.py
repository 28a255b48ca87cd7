"""Shoal: serve and scale Executors, Jina-compatible, with a C++ runtime.

Change ``from jina import ...`` to ``from shoal import ...`` (and ``docarray`` to
``shoal.docarray``); the names below are Jina's.
"""

import importlib

import _shoal

__version__ = _shoal.__version__

# Names are imported on first use, so that a replica serving an Executor does not load the
# orchestration API, and a client does not load the Executor runtime.
_EXPORTS = {
    'Executor': 'shoal.executor',
    'requests': 'shoal.executor',
    'dynamic_batching': 'shoal.executor',
    'write': 'shoal.executor',
    'Deployment': 'shoal.orchestrate',
    'Flow': 'shoal.orchestrate',
    'Client': 'shoal.client',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shoal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
