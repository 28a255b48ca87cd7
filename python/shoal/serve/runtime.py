"""The replica side of a Python Executor.

The C++ replica (``shoal executor --uses x.py:Class``) calls :func:`load` once, in its embedded
interpreter, and then calls the endpoint methods it describes itself; nothing here runs per
request except :func:`exception_info` when a method raises.
"""

import asyncio
import importlib
import importlib.util
import inspect
import logging
import os
import sys
import traceback
import types
import typing

import _shoal
from shoal.executor import _BATCHING_ATTR, _WRITE_ATTR, Executor


class LoadError(Exception):
    """`uses` cannot be turned into an Executor; the message says why."""


class Endpoint(typing.NamedTuple):
    name: str
    write: bool
    method: typing.Callable  # bound to the instance
    wrap: typing.Callable  # _shoal.DocList -> what the method's `docs` expects
    pass_parameters: bool
    pass_parts: bool  # takes docs_matrix and docs_map (requests of several parts, no_reduce)
    batching: typing.Optional[dict] = None  # @dynamic_batching's options
    # A generator (sync or async) taking one `doc`: `method` returns an iterator of the
    # documents it yields, and `wrap` makes the doc's class from a _shoal.Doc.
    is_generator: bool = False


class Hosted(typing.NamedTuple):
    instance: Executor
    class_name: str
    endpoints: list


class _ShoalLogHandler(logging.Handler):
    """Hands records to Shoal's log, which prefixes them with `name/rep-i@pid`."""

    def emit(self, record):
        try:
            _shoal._log(record.levelno, self.format(record))
        except Exception:  # a logging failure must not fail the request
            self.handleError(record)


def _logger(name):
    logger = logging.getLogger(name)
    if hasattr(_shoal, '_log') and not any(isinstance(h, _ShoalLogHandler) for h in logger.handlers):
        logger.addHandler(_ShoalLogHandler())
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.DEBUG)  # Shoal's own level decides what is written
    return logger


def _import_file(path):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise LoadError(f'{path}: no such file')
    name = os.path.splitext(os.path.basename(path))[0]
    existing = sys.modules.get(name)
    if existing is not None:
        if os.path.abspath(getattr(existing, '__file__', '') or '') == path:
            return existing
        name = f'_shoal_user_{name}'  # never shadow a module of the same name
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _load_pickled(path):
    import cloudpickle  # only Deployment(uses=SomeClass) writes these

    with open(path, 'rb') as f:
        loaded = cloudpickle.load(f)
    module = types.ModuleType(os.path.basename(path))
    if isinstance(loaded, type):
        setattr(module, loaded.__name__, loaded)
        module.__shoal_classes__ = [loaded]
    else:
        raise LoadError(f'{path} holds a {type(loaded).__name__}, not an Executor class')
    return module


def _defined_executors(module):
    listed = getattr(module, '__shoal_classes__', None)
    if listed is not None:
        return list(listed)
    return [v for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, Executor) and v is not Executor
            and v.__module__ == module.__name__]


def _find_class(modules, class_name, uses):
    if class_name:
        for module in reversed(modules):
            cls = getattr(module, class_name, None)
            if cls is not None:
                break
        else:
            found = sorted(c.__name__ for m in modules for c in _defined_executors(m))
            raise LoadError(f'{uses}: no class {class_name!r}; Executor classes there: '
                            f'{", ".join(found) or "(none)"}')
        if not (isinstance(cls, type) and issubclass(cls, Executor)):
            raise LoadError(f'{uses}: {class_name} is not a subclass of shoal.Executor')
        return cls
    found = [c for m in modules for c in _defined_executors(m)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise LoadError(f'{uses}: defines no subclass of shoal.Executor')
    names = ', '.join(sorted(c.__name__ for c in found))
    raise LoadError(f'{uses}: defines several Executors ({names}); name one with '
                    f'{uses}:{found[0].__name__}')


def _docs_wrapper(fn):
    """`DocList[T]._wrap` for the method's `docs: DocList[T]` annotation (any DocList else)."""
    from shoal.docarray import DocList

    try:
        hint = typing.get_type_hints(fn).get('docs')
    except Exception:  # an annotation that does not resolve: docs of any schema
        hint = None
    if isinstance(hint, type) and issubclass(hint, DocList):
        return hint._wrap
    return DocList._wrap


_loop = None


def _event_loop():
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    return _loop


def _run_async(method):
    """`async def` endpoints run to completion on one event loop of this replica."""

    def call(**kwargs):
        return _event_loop().run_until_complete(method(**kwargs))

    return call


def _iterate_async(method):
    """An `async def ... yield` endpoint as a plain iterator: each item awaited on the replica's
    event loop, the generator closed when the iteration stops early."""

    def call(**kwargs):
        agen = method(**kwargs)
        loop = _event_loop()
        try:
            while True:
                try:
                    yield loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(agen.aclose())

    return call


def _doc_wrapper(fn):
    """`T._wrap` for a streaming method's `doc: T` annotation (AnyDoc else)."""
    from shoal.docarray import BaseDoc
    from shoal.docarray.base_doc import AnyDoc

    try:
        hint = typing.get_type_hints(fn).get('doc')
    except Exception:  # an annotation that does not resolve: a document of any schema
        hint = None
    if isinstance(hint, type) and issubclass(hint, BaseDoc):
        return hint._wrap
    return AnyDoc._wrap


def _generator_endpoint(instance, endpoint, method_name, method, write):
    """A streaming endpoint: ``def gen(self, doc, parameters, **kwargs): yield doc``."""
    name = type(instance).__name__
    if write:
        raise LoadError(f'{name}.{method_name}() is a generator and @write: streaming endpoints '
                        f'are reads')
    params = inspect.signature(method).parameters
    var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
    if 'doc' not in params and not var_kw:
        raise LoadError(f'{name}.{method_name}() is a generator, so it streams one document: it '
                        f'must take `doc` (def {method_name}(self, doc, **kwargs): yield ...)')
    if getattr(method, _BATCHING_ATTR, None) is not None:
        raise LoadError(f'{name}.{method_name}() is a generator and @dynamic_batching: streaming '
                        f'endpoints answer one document at a time and cannot batch requests')
    call = _iterate_async(method) if inspect.isasyncgenfunction(method) else method
    return Endpoint(endpoint, False, call, _doc_wrapper(method), var_kw or 'parameters' in params,
                    False, is_generator=True)


def _endpoint(instance, endpoint, method_name, write):
    method = getattr(instance, method_name)
    if inspect.isgeneratorfunction(method) or inspect.isasyncgenfunction(method):
        return _generator_endpoint(instance, endpoint, method_name, method, write)
    params = inspect.signature(method).parameters
    var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not var_kw and 'docs' not in params:
        raise LoadError(f'{type(instance).__name__}.{method_name}() must take `docs` '
                        f'(def {method_name}(self, docs, parameters, **kwargs))')
    call = _run_async(method) if inspect.iscoroutinefunction(method) else method
    return Endpoint(endpoint, write, call, _docs_wrapper(method), var_kw or 'parameters' in params,
                    var_kw or 'docs_matrix' in params or 'docs_map' in params,
                    getattr(method, _BATCHING_ATTR, None))


def _with_requests(cls, table, requests, uses):
    """`table` with each endpoint of `requests` bound to its method (replaced or added)."""
    bound = {endpoint: (endpoint, method, write) for endpoint, method, write in table}
    for endpoint, method_name in requests.items():
        fn = getattr(cls, method_name, None)
        if not callable(fn) or method_name.startswith('__'):
            raise LoadError(f'{uses}: requests: {endpoint}: {cls.__name__} has no method '
                            f'{method_name!r}')
        bound[endpoint] = (endpoint, method_name, bool(getattr(fn, _WRITE_ATTR, False)))
    return list(bound.values())


def _ids(name):
    """(replica_id, shard_id) from `dep/rep-i` or `dep/shard-s/rep-i`."""
    replica_id = shard_id = 0
    for part in name.split('/')[1:]:
        if part.startswith('rep-') and part[4:].isdigit():
            replica_id = int(part[4:])
        elif part.startswith('shard-') and part[6:].isdigit():
            shard_id = int(part[6:])
    return replica_id, shard_id


def load(uses, modules, class_name, search_path, kwargs, metas_name, metas_workspace, name,
         workspace, requests=None):
    """Imports `modules`, builds `class_name` (or the one Executor they define) with `kwargs`.

    `requests` ({endpoint: method name}, an Executor YAML's ``requests:``) binds endpoints over
    the class's own ``@requests`` bindings, as Jina does.
    """
    for folder in reversed(search_path):
        folder = os.path.abspath(folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    loaded = []
    for module in modules:
        if module.endswith('.cloudpickle'):
            loaded.append(_load_pickled(module))
        elif module.endswith('.py'):
            loaded.append(_import_file(module))
        else:
            loaded.append(importlib.import_module(module))
    cls = _find_class(loaded, class_name, uses)
    table = _with_requests(cls, cls._endpoint_table(), requests or {}, uses)
    workspace = workspace or metas_workspace or None
    if workspace:
        workspace = os.path.abspath(workspace)
        os.makedirs(workspace, exist_ok=True)
    replica_id, shard_id = _ids(name)
    deployment = name.split('/')[0]
    instance = cls.__new__(cls)
    instance.metas = types.SimpleNamespace(name=metas_name or deployment, workspace=workspace,
                                           py_modules=list(modules), description=None)
    instance.runtime_args = types.SimpleNamespace(name=name, replica_id=replica_id,
                                                  shard_id=shard_id, workspace=workspace)
    instance.workspace = workspace
    instance.logger = _logger(name)
    instance.__init__(**kwargs)
    endpoints = [_endpoint(instance, e, m, w) for e, m, w in table]
    return Hosted(instance, cls.__name__, endpoints)


def _user_frames(tb):
    here = os.path.dirname(os.path.abspath(__file__))
    return [f for f in traceback.extract_tb(tb)
            if not f.filename.startswith('<frozen') and not f.filename.startswith(here)]


def describe_load_error(exc):
    """One message for a failed load: Python's own, with the file and line it points at."""
    if isinstance(exc, LoadError):
        return str(exc)
    if isinstance(exc, SyntaxError):
        text = (exc.text or '').rstrip()
        line = f'\n    {text.strip()}' if text else ''
        return f'{exc.filename}:{exc.lineno}: {type(exc).__name__}: {exc.msg}{line}'
    frames = _user_frames(exc.__traceback__)
    where = f'{frames[-1].filename}:{frames[-1].lineno}: ' if frames else ''
    return where + ''.join(traceback.format_exception_only(type(exc), exc)).strip()


def exception_info(exc, tb=None):
    """(name, args, stack lines, repr) of an exception, as Jina's error status carries them."""
    args = [str(a) for a in exc.args] if exc.args else [str(exc)]
    stacks = traceback.format_exception(type(exc), exc, tb or exc.__traceback__)
    return type(exc).__name__, args, stacks, repr(exc)
