"""Deployment and Flow with Jina's keys and defaults, run by Shoal's C++ orchestrator.

    with Deployment(uses=MyExecutor, replicas=3) as dep:
        docs = dep.post('/index', inputs=DocList[TextDoc]([...]))
        dep.block()

``uses`` is a class (pickled with cloudpickle, so replicas never re-run the caller's script), a
``path/x.py:Class``, an Executor YAML, or a C++ Executor's name (``'Echo'``). Replicas get the
caller's ``sys.path`` as PYTHONPATH, so the caller's modules import there too.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import warnings
import weakref

import _shoal

from shoal.client import post_native

__all__ = ['Deployment', 'Flow']

# Replicas run the `shoal` built with this package unless SHOAL_BIN says otherwise (also for
# Deployments and Flows loaded from YAML).
os.environ.setdefault('SHOAL_BIN', _shoal.shoal_binary)

# Jina keys that have no effect in Shoal: accepted, with a warning when not at their default.
_IGNORED = {
    'install_requirements': False, 'quiet': False, 'quiet_error': False, 'log_config': None,
    'title': None, 'description': None, 'force_update': False, 'prefer_platform': None,
    'monitoring': False, 'metrics': False, 'tracing': False, 'port_monitoring': None,
    'timeout_ctrl': 60, 'compression': None, 'grpc_channel_options': None,
    'uvicorn_kwargs': None, 'cors': False, 'disable_auto_volume': False,
    'output_array_type': None, 'exit_on_exceptions': None,
}
# Jina keys Shoal does not implement: accepted only at their default (a TypeError otherwise).
_UNSUPPORTED = {
    'uses_before': None, 'uses_after': None, 'uses_before_address': None,
    'uses_after_address': None, 'when': None, 'gpus': None, 'docker_kwargs': None,
    'volumes': None, 'entrypoint': None, 'uses_requests': None,
    'py_modules': None, 'native': False, 'runtime_cls': None, 'allow_concurrent': False,
    'reload': False, 'connection_list': None, 'grpc_metadata': None,
    'grpc_server_options': None, 'provider': None, 'provider_endpoint': None,
}
# Shoal's own keys, passed as they are (see include/shoal/deployment.h).
_SHOAL_KEYS = ('auth_token', 'max_replicas', 'max_queued_requests', 'max_docs_per_request',
               'max_message_size', 'expose_internal_errors', 'internal_tls', 'reflection',
               'ssl_certfile', 'ssl_keyfile', 'shoal_binary', 'read_consistency', 'retries')


def _check_extra_keys(where, kwargs):
    """Warns about Jina's no-op keys; TypeError naming unknown and unsupported ones."""
    unknown = [k for k in kwargs if k not in _IGNORED and k not in _UNSUPPORTED]
    if unknown:
        raise TypeError(f'{where}: unknown keyword argument(s): {", ".join(sorted(unknown))}')
    for key, value in kwargs.items():
        if key in _UNSUPPORTED and value not in (_UNSUPPORTED[key], None, False, [], {}):
            raise TypeError(f'{where}: {key!r} is not supported by Shoal')
        if key in _IGNORED and value != _IGNORED[key]:
            warnings.warn(f'{where}: {key!r} has no effect in Shoal and is ignored',
                          stacklevel=4)


def _protocols(where, protocol, allowed):
    values = protocol if isinstance(protocol, (list, tuple)) else [protocol]
    values = [str(getattr(p, 'name', p)).lower() for p in values]
    for value in values:
        if value not in allowed:
            raise ValueError(f'{where}: protocol {value!r} is not supported '
                             f'(supported: {", ".join(allowed)})')
    return values


def _int(where, key, value):
    """`value` as an int; TypeError naming `key` otherwise."""
    if isinstance(value, bool):
        raise TypeError(f'{where}: {key} must be an int, got bool')
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f'{where}: {key} must be an int, got {value!r}') from None


def _json(where, key, value):
    """`value` as JSON; TypeError naming `key` when it holds what JSON cannot."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f'{where}: {key}: {e}') from None


def _peer_ports(value):
    """peer_ports as a list per shard: [p, ...], [[p, ...], ...] or {shard: [p, ...]}."""
    if value is None:
        return []
    if isinstance(value, int):
        return [[value]]
    if isinstance(value, dict):
        return [list(value[k]) for k in sorted(value, key=int)]
    value = list(value)
    if value and all(isinstance(p, int) for p in value):
        return [value]
    return [list(ports) for ports in value]


def _split(value):
    """A host or port list as Jina reads it: a value or list, each split on commas."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [part.strip() for item in items for part in str(item).split(',') if part.strip()]


def _external_hosts(host, port, tls):
    """`[scheme://]host:port` per replica (jina-semantics §7.1)."""
    hosts, ports = _split(host), _split(port) if port is not None else []
    if len(hosts) == 1 and len(ports) > 1:
        hosts = hosts * len(ports)
    if len(ports) == 1 and len(hosts) > 1:
        ports = ports * len(hosts)
    if ports and len(ports) != len(hosts):
        raise ValueError(f'Number of hosts ({len(hosts)}) does not match the number of ports '
                         f'({len(ports)})')
    result = []
    for i, address in enumerate(hosts):
        rest = address.split('://', 1)[-1]
        if ports and ':' not in rest.rsplit(']', 1)[-1]:
            address = f'{address}:{ports[i]}'
        if tls and '://' not in address:
            address = f'grpcs://{address}'
        result.append(address)
    return result


def _caller_pythonpath(extra):
    """The caller's sys.path (so that its modules import in replicas), after `extra`."""
    entries = [extra] if extra else []
    for entry in sys.path:
        entry = os.path.abspath(entry or os.getcwd())
        if entry not in entries:
            entries.append(entry)
    return os.pathsep.join(entries)


class _Uses:
    """Turns `uses` classes into cloudpickle files under a temp dir (or the workspace)."""

    def __init__(self):
        self.tmpdir = None

    def temp_dir(self):
        """The object's temp dir, made on first use (removed with the object)."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix='shoal-')
        return self.tmpdir

    def resolve(self, uses, name, workspace):
        if isinstance(uses, type):
            return self._pickle(uses, name, workspace)
        if isinstance(uses, (str, os.PathLike)):
            return os.fspath(uses)
        raise TypeError(f'uses must be an Executor class, a path or a class name, '
                        f'got {type(uses).__qualname__}')

    def _pickle(self, cls, name, workspace):
        import cloudpickle
        base = os.path.abspath(workspace) if workspace else self.temp_dir()
        folder = os.path.join(base, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f'{cls.__name__}.cloudpickle')
        with open(path, 'wb') as f:
            cloudpickle.dump(cls, f)
        return path


def _deployment_options(where, uses_files, kwargs, in_flow=False):
    """The native option dict (include/shoal/deployment.h's names) from Jina's keys."""
    k = dict(kwargs)
    native = {}

    def take(key, default=None):
        return k.pop(key, default)

    name = take('name', 'executor')
    native['name'] = name
    workspace = take('workspace')
    metas = dict(take('uses_metas') or {})
    if 'workspace' in metas:
        workspace = workspace or metas.pop('workspace')
    if metas:
        raise TypeError(f'{where}: uses_metas key(s) not supported by Shoal: '
                        f'{", ".join(sorted(metas))}')
    stateful = bool(take('stateful', False))
    if stateful and not workspace:
        # Raft keeps its log in the workspace; without one given, a temp one (as Jina's
        # default workspace, but removed with the object).
        workspace = os.path.join(uses_files.temp_dir(), f'{name}-workspace')
    if workspace:
        native['workspace'] = os.fspath(workspace)
    native['uses'] = uses_files.resolve(take('uses', 'BaseExecutor'), name, workspace)
    native['uses_with'] = _json(where, 'uses_with', take('uses_with') or {})
    native['uses_dynamic_batching'] = _json(where, 'uses_dynamic_batching',
                                            take('uses_dynamic_batching') or {})
    native['replicas'] = _int(where, 'replicas', take('replicas', 1))
    native['shards'] = _int(where, 'shards', take('shards', 1))
    polling = take('polling', 'ANY')
    if isinstance(polling, dict):
        polling = _json(where, 'polling', polling)
    native['polling'] = str(polling)
    _protocols(where, take('protocol', 'grpc'), ('grpc',))
    external, tls = bool(take('external', False)), bool(take('tls', False))
    host, port = take('host', '0.0.0.0'), take('port')
    if external:
        native['external'] = True
        native['external_hosts'] = _external_hosts(host, port, tls)
    else:
        if tls:
            raise TypeError(f"{where}: 'tls' applies to external Executors only")
        if port is not None:
            native['port'] = _int(where, 'port', _split(port)[0])
        if not in_flow:
            native['host'] = _split(host)[0]
    env = {str(key): str(value) for key, value in (take('env') or {}).items()}
    env['PYTHONPATH'] = _caller_pythonpath(env.get('PYTHONPATH'))
    native['env'] = env
    native['stateful'] = stateful
    native['peer_ports'] = _peer_ports(take('peer_ports'))
    # snake_case keys become PascalCase in the replica (config::CanonicalRaftConfiguration).
    native['raft_configuration'] = _json(where, 'raft_configuration',
                                         take('raft_configuration') or {})
    autoscaling = take('autoscaling')
    if autoscaling is not None:
        if not isinstance(autoscaling, dict):
            raise TypeError(f'{where}: autoscaling: expected a dict such as '
                            f"{{'min_replicas': 1, 'max_replicas': 4}}, got {autoscaling!r}")
        native['autoscaling'] = _json(where, 'autoscaling', autoscaling)
    native['timeout_ready_ms'] = _int(where, 'timeout_ready', take('timeout_ready', 600000))
    timeout_send = take('timeout_send')
    if timeout_send is not None:
        native['timeout_send_ms'] = _int(where, 'timeout_send', timeout_send)
    if in_flow:
        needs = take('needs')
        if needs is not None:
            native['needs'] = [needs] if isinstance(needs, str) else list(needs)
        native['floating'] = bool(take('floating', False))
        native['no_reduce'] = bool(take('no_reduce', False))
    for key in _SHOAL_KEYS:
        if key in k:
            native[key] = take(key)
    _check_extra_keys(where, k)
    return native


def _cleanup(native, uses_files):
    if native is not None:
        native.stop()
    if uses_files.tmpdir is not None:
        shutil.rmtree(uses_files.tmpdir, ignore_errors=True)


def _sigterm_exit(signum, frame):
    raise SystemExit(0)


def _exit_on_sigterm():
    """SIGTERM as SystemExit(0) instead of the default death, from the main thread, when
    nothing else handles SIGTERM: a SIGTERM that arrives before block() (or without it) stops
    the replicas on its way out, as block() would."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_exit)


class _Orchestration:
    """What Deployment and Flow share: start/stop, the context manager, post, block."""

    def _adopt(self, native, uses_files):
        self._native = native
        self._uses_files = uses_files
        # Stops the replicas and removes the pickled classes when the object goes (at the
        # latest when the interpreter exits), whether or not stop() was called.
        self._finalizer = weakref.finalize(self, _cleanup, native, uses_files)
        # Posts in flight, which stop() waits for: the native object must not stop under them.
        self._posts = threading.Condition()
        self._in_flight = 0
        self._stopping = False

    def start(self):
        """Starts every replica and waits until they serve. From then on, in a program that
        leaves SIGTERM to its default (being killed where it stands), SIGTERM ends the program
        as SystemExit(0) does: its `with` blocks stop the replicas."""
        _exit_on_sigterm()
        self._native.start()
        return self

    def stop(self):
        """Waits for the posts in flight (new ones are refused), then drains and stops every
        replica (SIGTERM, then SIGKILL). Idempotent."""
        with self._posts:
            self._stopping = True
            try:
                self._posts.wait_for(lambda: self._in_flight == 0)
                self._native.stop()
            finally:
                self._stopping = False

    def _native_post(self, on, handle, options):
        with self._posts:
            if self._stopping:
                raise RuntimeError('the Deployment or Flow is stopping')
            self._in_flight += 1
        try:
            return self._native.post(on, handle, options)
        finally:
            with self._posts:
                self._in_flight -= 1
                self._posts.notify_all()

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        return self._native.port

    def post(self, on, inputs=None, on_done=None, on_error=None, on_always=None, **kwargs):
        """As shoal.Client.post, to this Deployment's or Flow's port."""
        return post_native(self._native_post, on, inputs, on_done, on_error, on_always,
                           **kwargs)

    def block(self, stop_event=None):
        """Waits until SIGINT or SIGTERM arrives, or until `stop_event` (a threading.Event) is
        set; leaves stopping to the caller (the `with` block)."""
        interrupted = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: interrupted.set())
        try:
            while not interrupted.is_set():
                if stop_event is not None and stop_event.is_set():
                    break
                interrupted.wait(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Deployment(_Orchestration):
    """One Executor served by ``replicas`` processes in each of ``shards`` partitions behind one
    gRPC port. Keys and defaults are Jina's (name='executor', uses='BaseExecutor', replicas=1,
    shards=1, polling='ANY', host='0.0.0.0', protocol='grpc', stateful=False, peer_ports,
    workspace, env, uses_with, uses_metas, raft_configuration, external, timeout_send,
    timeout_ready, ...), and ``autoscaling``: a dict with Ray Serve's keys (min_replicas,
    max_replicas, target_ongoing_requests, upscale_delay_s, downscale_delay_s, ...)."""

    def __init__(self, **kwargs):
        uses_files = _Uses()
        try:
            options = _deployment_options('Deployment()', uses_files, kwargs)
        except BaseException:
            _cleanup(None, uses_files)
            raise
        self.name = options['name']
        self._kwargs = dict(kwargs)
        self._adopt(_shoal.Deployment(options), uses_files)

    @classmethod
    def load_config(cls, path):
        """A Deployment from a Deployment YAML (Jina's ``jtype: Deployment`` + ``with:``)."""
        deployment = cls.__new__(cls)
        deployment.name = None
        deployment._kwargs = None
        deployment._adopt(_shoal.Deployment.load_config(os.fspath(path)), _Uses())
        return deployment

    def replica_addresses(self):
        """host:port of every replica, per shard."""
        return self._native.replica_addresses()

    def replica_pids(self):
        """The pid of every running replica, per shard (-1 where none runs)."""
        return [[self._native.replica_pid(s, r) for r in range(len(replicas))]
                for s, replicas in enumerate(self._native.replica_addresses())]

    def scale(self, replicas):
        self._native.scale(int(replicas))

    def update(self, **kwargs):
        """Moves the running Deployment to its keys with `kwargs` changed, without downtime:
        keys such as replicas, timeout_send, retries, polling or autoscaling apply in place; a
        new uses, uses_with or env replaces the replicas one at a time. Keys that cannot change
        while it runs (name, shards, port, ...) raise ValueError naming the key."""
        if self._kwargs is None:
            raise TypeError('Deployment.update(): only for a Deployment made with '
                            'Deployment(...); for one from load_config, edit the YAML and '
                            'run `shoal rollout`')
        merged = {**self._kwargs, **kwargs}
        options = _deployment_options('Deployment.update()', self._uses_files, merged)
        self._native.update(options)
        self._kwargs = merged


# Flow keys every Executor inherits unless it sets its own (as Jina's Flow `with:`).
_EXECUTOR_DEFAULTS = ('env', 'workspace', 'timeout_send', 'timeout_ready', 'retries')


class Flow(_Orchestration):
    """Executors chained into a graph (``needs``) behind one gateway:
    ``Flow(port=12345).add(name='enc', uses=Encoder, replicas=2).add(name='idx', uses=...)``.
    Keys as Jina's: protocol ('grpc', 'http' or both), port (one per protocol), host,
    prefetch=1000, and env/workspace/timeout_send/timeout_ready/retries for every Executor."""

    def __init__(self, protocol='grpc', port=None, host='0.0.0.0', prefetch=1000, name='flow',
                 **kwargs):
        self._defaults = {k: kwargs.pop(k) for k in _EXECUTOR_DEFAULTS if k in kwargs}
        options = {'name': name, 'host': host, 'prefetch': _int('Flow()', 'prefetch', prefetch),
                   'protocols': _protocols('Flow()', protocol, ('grpc', 'http'))}
        if port is not None:
            options['ports'] = [_int('Flow()', 'port', p) for p in _split(port)]
        for key in ('auth_token', 'max_replicas', 'max_docs_per_request', 'max_message_size',
                    'internal_tls', 'reflection', 'ssl_certfile', 'ssl_keyfile',
                    'shoal_binary'):
            if key in kwargs:
                options[key] = kwargs.pop(key)
        _check_extra_keys('Flow()', kwargs)
        self._names = []
        self._kwargs = {}
        self._adopt(_shoal.Flow(options), _Uses())

    @classmethod
    def load_config(cls, path):
        """A Flow from a Flow YAML (``jtype: Flow``, ``with:``, ``executors:``)."""
        flow = cls.__new__(cls)
        flow._defaults, flow._names, flow._kwargs = {}, [], {}
        flow._adopt(_shoal.Flow.load_config(os.fspath(path)), _Uses())
        return flow

    def add(self, **kwargs):
        """Adds an Executor (Deployment keys, plus needs, floating, no_reduce); without
        ``needs`` it follows the previous one. Returns the Flow."""
        merged = dict(self._defaults)
        if 'env' in merged and 'env' in kwargs:
            merged['env'] = {**merged['env'], **(kwargs.pop('env') or {})}
        merged.update(kwargs)
        merged.setdefault('name', f'executor{len(self._names)}')
        options = _deployment_options(f"Flow.add(name={merged['name']!r})", self._uses_files,
                                      merged, in_flow=True)
        self._native.add(options)
        self._names.append(options['name'])
        self._kwargs[options['name']] = merged
        return self

    def needs(self, needs, name='joiner', **kwargs):
        """Adds a join of the Executors `needs`."""
        return self.add(name=name, needs=needs, **{'uses': 'BaseExecutor', **kwargs})

    def needs_all(self, name='joiner'):
        """Adds a join of every Executor nothing else waits for."""
        self._native.needs_all(name)
        self._names.append(name)
        return self

    @property
    def port(self):
        """The gRPC port (the HTTP port for a Flow that serves HTTP only)."""
        return self._native.port or self._native.http_port

    @property
    def http_port(self):
        return self._native.http_port

    def replica_addresses(self, name):
        """host:port of every replica of Executor `name`, per shard."""
        return self._native.replica_addresses(name)

    def scale(self, name, replicas):
        self._native.scale(name, int(replicas))

    def update(self, name, **kwargs):
        """Moves Executor `name` of the running Flow to its keys with `kwargs` changed; see
        Deployment.update. Only for Executors added with add()."""
        if name not in self._kwargs:
            raise KeyError(f'Flow.update(): no Executor {name!r} added with add()')
        merged = {**self._kwargs[name], **kwargs}
        options = _deployment_options(f'Flow.update(name={name!r})', self._uses_files, merged,
                                      in_flow=True)
        self._native.update(name, options)
        self._kwargs[name] = merged
