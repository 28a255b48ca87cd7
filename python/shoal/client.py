"""The client: ``Client(port=...).post(on, inputs, ...)`` with Jina's keys and defaults.

Requests are batched by ``request_size``, streamed over one gRPC ``JinaRPC/Call`` stream and
answered by Shoal's C++ client; the documents come back as ``DocList[return_type]`` (the answers
concatenated in the order received), or ``None`` when ``on_done``/``on_always`` are given.
"""

import asyncio
import json
import queue
import threading
import types

import _shoal

__all__ = ['AsyncClient', 'Client', 'DocStream', 'Response', 'BadServer']

BadServer = _shoal.BadServer

# Jina's endpoint shortcuts.
_SHORTCUTS = {'index': '/index', 'search': '/search', 'update': '/update', 'delete': '/delete'}

# post() keys of Jina's that Shoal accepts only with their default value.
_UNSUPPORTED_POST = {'return_responses': False, 'compression': None, 'headers': None}


def _docarray():
    from shoal import docarray
    return docarray


class Response:
    """One answer as a callback gets it: ``docs`` (a ``DocList[return_type]`` that stays valid
    after the callback), ``parameters`` (a dict), ``request_id``, ``status``."""

    def __init__(self, native, return_type):
        self._native = native
        self._return_type = return_type
        self._docs = None
        self._parameters = None

    @property
    def docs(self):
        if self._docs is None:
            self._docs = _wrap_docs(self._native.docs, self._return_type)
        return self._docs

    @property
    def parameters(self):
        if self._parameters is None:
            self._parameters = json.loads(self._native.parameters_json or '{}')
        return self._parameters

    @property
    def request_id(self):
        return self._native.request_id

    @property
    def status(self):
        """``status.code`` (0 SUCCESS, 3 ERROR as Jina's StatusProto), ``status.description``
        and ``status.exception.name``."""
        native = self._native
        return types.SimpleNamespace(
            code=0 if native.ok else 3,
            description=native.error,
            exception=types.SimpleNamespace(name=native.exception_name))

    @property
    def header(self):
        return types.SimpleNamespace(request_id=self.request_id, status=self.status)

    def __repr__(self):
        state = 'ok' if self._native.ok else f'error {self._native.exception_name}'
        return f'<Response {self.request_id} {state}>'


def _doc_list_class(return_type):
    """The DocList class answers are wrapped in: DocList[T] for a BaseDoc T, the given class
    for a DocList class (the plain DocList holds AnyDoc)."""
    docarray = _docarray()
    if return_type is None:
        return docarray.DocList[docarray.AnyDoc]
    if isinstance(return_type, type) and issubclass(return_type, docarray.BaseDoc):
        return docarray.DocList[return_type]
    return return_type


def _wrap_docs(handle, return_type):
    return _doc_list_class(return_type)._wrap(handle)


def _result(handle, return_type):
    """post()'s value: DocList[T]; a single T when return_type is a doc class and one doc came
    back (Jina's rule)."""
    docs = _wrap_docs(handle, return_type)
    docarray = _docarray()
    if (isinstance(return_type, type) and issubclass(return_type, docarray.BaseDoc)
            and len(docs) == 1):
        return docs[0]
    return docs


def _doc_handle(doc):
    """The `_shoal.Doc` of a document (a shoal.docarray BaseDoc or a `_shoal.Doc`)."""
    if isinstance(doc, _shoal.Doc):
        return doc
    handle = getattr(doc, '_doc', None)
    if isinstance(handle, _shoal.Doc):
        return handle
    raise TypeError(f'inputs: expected documents (shoal.docarray BaseDoc), got '
                    f'{type(doc).__qualname__}')


def _list_handle(inputs):
    """A `_shoal.DocList` for list-like inputs without copying a DocList; None for inputs that
    must be read lazily (iterators, generators)."""
    if inputs is None:
        return _shoal.DocList()
    if isinstance(inputs, _shoal.DocList):
        return inputs
    handle = getattr(inputs, '_docs', None)
    if isinstance(handle, _shoal.DocList):
        return handle
    if isinstance(inputs, _shoal.Doc) or isinstance(getattr(inputs, '_doc', None), _shoal.Doc):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)):
        handle = _shoal.DocList()
        for doc in inputs:
            handle.append(_doc_handle(doc))
        return handle
    return None


def _post_options(request_size, parameters, target_executor, show_progress,
                  continue_on_error, max_attempts, initial_backoff, max_backoff,
                  backoff_multiplier, results_in_order, stream, prefetch, timeout):
    """The native post options (see src/python/api_options.cc) from Jina's keys."""
    if parameters is not None and not isinstance(parameters, dict):
        dump = getattr(parameters, 'dict', None)  # a pydantic model
        if dump is None:
            raise TypeError(f'parameters must be a dict, got {type(parameters).__qualname__}')
        parameters = dump()
    options = {
        'request_size': max(int(request_size), 0),
        'parameters': json.dumps(parameters or {}),
        'target_executor': target_executor or '',
        'show_progress': False,
        'continue_on_error': bool(continue_on_error),
        'max_attempts': int(max_attempts),
        'initial_backoff_ms': int(initial_backoff * 1000),
        'max_backoff_ms': int(max_backoff * 1000),
        'backoff_multiplier': float(backoff_multiplier),
        'results_in_order': bool(results_in_order),
        'stream': bool(stream),
        'prefetch': int(prefetch or 0),
    }
    if timeout is not None:
        options['timeout_ms'] = int(timeout * 1000)
    return options


class _Progress:
    """A tqdm bar counting answered requests and documents."""

    def __init__(self, on):
        from tqdm import tqdm
        self._bar = tqdm(desc=on, unit='req')
        self._docs = 0

    def update(self, response):
        self._docs += len(response.docs)
        self._bar.set_postfix(docs=self._docs, refresh=False)
        self._bar.update(1)

    def close(self):
        self._bar.close()


def post_native(native_post, on, inputs=None, on_done=None, on_error=None, on_always=None,
                parameters=None, target_executor=None, request_size=100, show_progress=False,
                continue_on_error=False, return_type=None, max_attempts=1, initial_backoff=0.5,
                max_backoff=2, backoff_multiplier=1.5, results_in_order=False, stream=True,
                prefetch=None, timeout=None, native_post_iter=None, **kwargs):
    """post() with Jina's keys over a native post(on, docs, options) (Client, Deployment or
    Flow); `native_post_iter(on, iterator, options)` reads iterators lazily where given."""
    for key, value in kwargs.items():
        if key not in _UNSUPPORTED_POST:
            raise TypeError(f"post() got an unexpected keyword argument '{key}'")
        if value != _UNSUPPORTED_POST[key]:
            raise TypeError(f"post(): '{key}' is not supported by Shoal")
    on = _SHORTCUTS.get(on, on)
    if not isinstance(on, str):
        raise TypeError(f'on must be an endpoint string, got {type(on).__qualname__}')
    options = _post_options(request_size, parameters, target_executor, show_progress,
                            continue_on_error, max_attempts, initial_backoff, max_backoff,
                            backoff_multiplier, results_in_order, stream, prefetch, timeout)
    progress = _Progress(on) if show_progress else None
    callbacks = _callbacks(on_done, on_error, on_always, progress, return_type)
    options.update(callbacks.native)
    if callable(inputs) and not hasattr(inputs, '__iter__'):
        inputs = inputs()
    try:
        handle = _list_handle(inputs)
        if handle is not None:
            answer = native_post(on, handle, options)
        elif native_post_iter is not None:
            answer = native_post_iter(on, (_doc_handle(d) for d in inputs), options)
        else:
            answer = native_post(on, _list_handle(list(inputs)), options)
    finally:
        if progress is not None:
            progress.close()
    if on_done is not None or on_always is not None:
        return None
    if callbacks.collected is not None:
        return _result(callbacks.collected, return_type)
    return _result(answer, return_type)


class _Callbacks:
    def __init__(self):
        self.native = {}
        self.collected = None  # answers gathered by the progress bar's callback


def _callbacks(on_done, on_error, on_always, progress, return_type):
    """The native callbacks: the user's, wrapped to get a Response, plus the progress bar's,
    which then also gathers the answers (the native post returns none with on_always set)."""
    result = _Callbacks()

    def wrap(callback):
        return lambda native: callback(Response(native, return_type))

    if on_done is not None:
        result.native['on_done'] = wrap(on_done)
    if on_error is not None:
        result.native['on_error'] = wrap(on_error)
    if progress is None:
        if on_always is not None:
            result.native['on_always'] = wrap(on_always)
        return result
    collect = on_done is None and on_always is None
    if collect:
        result.collected = _shoal.DocList()

    def always(native):
        response = Response(native, return_type)
        progress.update(response)
        if collect:
            result.collected.extend(native.docs)
        if on_always is not None:
            on_always(response)

    result.native['on_always'] = always
    return result


_END = object()


def _doc_class(return_type):
    """The document class streamed docs are wrapped in: T for T or DocList[T], else AnyDoc."""
    docarray = _docarray()
    if isinstance(return_type, type) and issubclass(return_type, docarray.BaseDoc):
        return return_type
    doc_type = getattr(return_type, 'doc_type', None)
    if isinstance(doc_type, type) and issubclass(doc_type, docarray.BaseDoc):
        return doc_type
    return docarray.AnyDoc


class DocStream:
    """The documents of one stream_doc call, as they arrive: ``async for doc in stream`` (Jina's
    form) or ``for doc in stream``. The call runs on a thread of its own and is read a few
    documents ahead; a consumer that stops early (``break``, ``close()``) cancels it, and the
    Executor sees it. An Executor error is raised (BadServer) after the documents before it."""

    _AHEAD = 4

    def __init__(self, native, on, doc, parameters, timeout, return_type):
        self._wrap = _doc_class(return_type)._wrap
        self._queue = queue.Queue(self._AHEAD)
        self._stop = threading.Event()
        self._done = False
        args = (native, on, _doc_handle(doc), json.dumps(parameters or {}),
                int((timeout or 0) * 1000))
        self._thread = threading.Thread(target=self._run, args=args, daemon=True,
                                        name='shoal-stream-doc')
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def _run(self, native, on, doc, parameters_json, timeout_ms):
        failure = None
        try:
            native.stream_doc(on, doc, parameters_json, timeout_ms, self._put)
        except BaseException as e:  # handed to the consumer
            failure = e
        self._put((_END, failure))

    def _take(self, item):
        if isinstance(item, tuple) and item and item[0] is _END:
            self._done = True
            if item[1] is not None:
                raise item[1]
            return _END
        return self._wrap(item)

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        doc = self._take(self._queue.get())
        if doc is _END:
            raise StopIteration
        return doc

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._done:
            raise StopAsyncIteration
        item = await asyncio.get_running_loop().run_in_executor(None, self._queue.get)
        doc = self._take(item)
        if doc is _END:
            raise StopAsyncIteration
        return doc

    def close(self):
        """Stops reading: the call is cancelled."""
        self._stop.set()
        self._done = True

    async def aclose(self):
        self.close()

    def __del__(self):
        self._stop.set()


class Client:
    """Jina's Client over gRPC: ``Client(host='0.0.0.0', port=12345, protocol='grpc')``.

    ``host`` may carry the scheme and port (``grpc://host:port``, ``grpcs://`` for TLS);
    ``0.0.0.0`` connects to 127.0.0.1. As Jina's, the client connects on its first post; with
    ``connect_timeout`` (seconds) it waits that long for the server here instead.
    Shoal's own keys: auth_token, ssl_cafile, ssl_certfile, ssl_keyfile.
    """

    def __new__(cls, *args, asyncio=False, **kwargs):
        # Jina's Client(asyncio=True) is its AsyncClient.
        return super().__new__(AsyncClient if asyncio and cls is Client else cls)

    def __init__(self, host='0.0.0.0', port=None, protocol='grpc', tls=False, asyncio=False,
                 auth_token=None, ssl_cafile=None, ssl_certfile=None, ssl_keyfile=None,
                 connect_timeout=0, **kwargs):
        if kwargs:
            raise TypeError(f'Client() got unexpected keyword argument(s): '
                            f'{", ".join(sorted(kwargs))}')
        protocol = str(protocol[0] if isinstance(protocol, (list, tuple)) else protocol).lower()
        if '://' in host:
            scheme, host = host.split('://', 1)
            protocol = {'grpcs': 'grpc', 'https': 'http'}.get(scheme, scheme)
            tls = tls or scheme in ('grpcs', 'https')
        if protocol != 'grpc':
            raise ValueError(f"Client(protocol='{protocol}') is not supported: shoal.Client "
                             f"speaks gRPC (a Flow serves gRPC and HTTP; post over its gRPC port)")
        if ':' in host and not host.startswith('[') and host.count(':') == 1:
            host, port = host.split(':')
        if port is None:
            raise ValueError('Client(): port is required')
        self.host = '127.0.0.1' if host in ('0.0.0.0', '') else host
        self.port = int(port)
        self.protocol = protocol
        options = {'tls': bool(tls), 'connect_timeout_ms': int(connect_timeout * 1000)}
        for key, value in (('auth_token', auth_token), ('ssl_cafile', ssl_cafile),
                           ('ssl_certfile', ssl_certfile), ('ssl_keyfile', ssl_keyfile)):
            if value is not None:
                options[key] = value
        self._native = _shoal.Client.connect(f'{self.host}:{self.port}', options)

    def post(self, on, inputs=None, on_done=None, on_error=None, on_always=None, **kwargs):
        """Sends ``inputs`` (a DocList, a doc, a list of docs, or an iterator/generator of docs,
        read as requests go out) to endpoint ``on`` in requests of ``request_size`` docs.
        Keys as Jina's: parameters, target_executor, request_size=100, show_progress=False,
        continue_on_error=False, return_type=DocList[AnyDoc], max_attempts=1,
        initial_backoff=0.5, max_backoff=2, backoff_multiplier=1.5, results_in_order=False,
        stream=True, prefetch=None; plus timeout (seconds per request)."""
        return post_native(self._native.post, on, inputs, on_done, on_error, on_always,
                           native_post_iter=self._native.post_iter, **kwargs)

    def stream_doc(self, on, inputs, parameters=None, return_type=None, timeout=None, **kwargs):
        """Calls streaming endpoint ``on`` with one document (Jina's stream_doc) and returns the
        documents it sends, as they arrive: ``async for doc in client.stream_doc(...)`` as in
        Jina, or ``for doc in ...``. ``return_type`` is the documents' class (or DocList[T]);
        ``timeout`` (seconds) bounds the whole stream."""
        unknown = set(kwargs) - {'target_executor', 'request_size', 'results_in_order'}
        if unknown:
            raise TypeError(f'stream_doc() got unexpected keyword argument(s): '
                            f'{", ".join(sorted(unknown))}')
        return DocStream(self._native, on, inputs, parameters, timeout, return_type)

    def index(self, inputs=None, **kwargs):
        return self.post('/index', inputs, **kwargs)

    def search(self, inputs=None, **kwargs):
        return self.post('/search', inputs, **kwargs)

    def is_flow_ready(self, timeout=3.0):
        """True when the server answers its health check within ``timeout`` seconds."""
        try:
            self._native.ping(int(timeout * 1000))
            return True
        except (ConnectionError, RuntimeError):
            return False



class AsyncClient(Client):
    """``Client(asyncio=True)``, as Jina's: ``post`` is an async generator that yields each
    response's documents as it arrives (the ``Response`` itself with ``return_responses=True``)::

        async for docs in Client(port=12345, asyncio=True).post('/', inputs):
            ...

    The requests run on a worker thread; the callbacks (on_done, on_error, on_always) run in the
    event loop. ``stream_doc`` is the same as Client's (``async for``).
    """

    async def post(self, on, inputs=None, on_done=None, on_error=None, on_always=None,
                   return_responses=False, return_type=None, **kwargs):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()
        if on_error is not None:  # an Executor error goes to on_error instead of raising
            kwargs['continue_on_error'] = True

        def deliver(response):  # on the posting thread
            loop.call_soon_threadsafe(queue.put_nowait, (response, None))

        def run():
            try:
                post_native(self._native.post, on, inputs, on_always=deliver,
                            return_type=return_type, native_post_iter=self._native.post_iter,
                            **kwargs)
                loop.call_soon_threadsafe(queue.put_nowait, (_END, None))
            except BaseException as error:  # raised in the event loop, after the answers before it
                loop.call_soon_threadsafe(queue.put_nowait, (_END, error))

        worker = loop.run_in_executor(None, run)
        try:
            while True:
                response, error = await queue.get()
                if response is _END:
                    if error is not None:
                        raise error
                    return
                if on_always is not None:
                    on_always(response)
                callback = on_error if response.status.code != 0 else on_done
                if callback is not None:
                    callback(response)
                yield response if return_responses else response.docs
        finally:
            await worker

    async def index(self, inputs=None, **kwargs):
        async for item in self.post('/index', inputs, **kwargs):
            yield item

    async def search(self, inputs=None, **kwargs):
        async for item in self.post('/search', inputs, **kwargs):
            yield item
