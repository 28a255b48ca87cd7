"""Python Executors: the decorators, the Executor base class, loading as a replica does, and a
class pickled with cloudpickle served by `shoal executor` without re-running its script."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

import _shoal
from shoal import Executor, requests, write
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc
from shoal.serve import runtime
from shoal.serve.executors.decorators import write as jina_path_write

SHOAL_BIN = os.environ.get('SHOAL_BIN', _shoal.shoal_binary)


class Indexer(Executor):
    @requests(on='/index')
    @write
    def index(self, docs: DocList[TextDoc], **kwargs):
        pass

    @write
    @requests(on=['/update', '/upsert'])
    def update(self, docs, parameters):
        pass

    @requests
    def other(self, docs, **kwargs):
        pass

    @requests(on='/search')
    def search(self, docs):
        pass


def test_decorators_build_the_endpoint_table_in_either_order():
    table = sorted(Indexer._endpoint_table())
    assert table == [('/default', 'other', False), ('/index', 'index', True),
                     ('/search', 'search', False), ('/update', 'update', True),
                     ('/upsert', 'update', True)]
    assert jina_path_write is write


def test_an_endpoint_bound_twice_is_an_error():
    class Twice(Executor):
        @requests(on='/a')
        def one(self, docs, **kwargs):
            pass

        @requests(on='/a')
        def two(self, docs, **kwargs):
            pass

    with pytest.raises(TypeError, match="endpoint '/a' is bound to both one\\(\\) and two\\(\\)"):
        Twice._endpoint_table()
    with pytest.raises(TypeError, match='str or a list of str'):
        requests(on=[1])


def test_a_subclass_overrides_a_method_and_keeps_its_endpoints():
    class Sub(Indexer):
        @requests(on='/search')
        def search(self, docs, **kwargs):
            pass

    assert ('/search', 'search', False) in Sub._endpoint_table()


def test_executor_built_directly_gets_jina_attributes():
    class Plain(Executor):
        def __init__(self, dim=3, **kwargs):
            super().__init__(**kwargs)
            self.dim = dim

    e = Plain(dim=4, metas={'name': 'mine'}, workspace='/tmp/w')
    assert e.dim == 4 and e.metas.name == 'mine' and e.workspace == '/tmp/w'
    assert e.runtime_args.replica_id == 0 and e.runtime_args.shard_id == 0
    assert e.logger.name == 'mine'
    assert Plain().metas.name == 'Plain'


def test_load_builds_the_instance_as_a_replica_does(tmp_path):
    source = tmp_path / 'enc.py'
    source.write_text(textwrap.dedent('''
        from shoal import Executor, requests
        from shoal.docarray import DocList
        from shoal.docarray.documents import TextDoc

        class Enc(Executor):
            def __init__(self, dim, **kwargs):
                self.dim = dim  # no super().__init__: the attributes are there anyway

            @requests(on='/encode')
            def encode(self, docs: DocList[TextDoc], **kwargs):
                for doc in docs:
                    doc.text = f'{self.dim}:{self.runtime_args.replica_id}'

            @requests
            def rest(self, docs):
                pass
    '''))
    hosted = runtime.load(str(source), [str(source)], '', [str(tmp_path)], {'dim': 7}, '', '',
                          'enc/shard-2/rep-1', str(tmp_path / 'ws'))
    assert hosted.class_name == 'Enc'
    instance = hosted.instance
    assert instance.dim == 7 and instance.metas.name == 'enc'
    assert (instance.runtime_args.replica_id, instance.runtime_args.shard_id) == (1, 2)
    assert instance.workspace == str(tmp_path / 'ws') and os.path.isdir(instance.workspace)
    endpoints = {e.name: e for e in hosted.endpoints}
    assert endpoints['/encode'].pass_parameters and not endpoints['/default'].pass_parameters
    handle = _shoal.DocList()
    handle.add()
    docs = endpoints['/encode'].wrap(handle)
    assert type(docs) is DocList[TextDoc]
    endpoints['/encode'].method(docs=docs)
    assert handle[0].get('text') == '7:1'


def test_yaml_requests_bind_endpoints_over_the_decorators(tmp_path):
    source = tmp_path / 'pick.py'
    source.write_text(textwrap.dedent('''
        from shoal import Executor, requests

        class Pick(Executor):
            @requests(on='/a')
            def a(self, docs, **kwargs):
                pass

            def b(self, docs, **kwargs):
                pass
    '''))
    hosted = runtime.load(str(source), [str(source)], '', [], {}, '', '', 'p/rep-0', '',
                          {'/a': 'b', '/c': 'a'})
    methods = {e.name: e.method.__name__ for e in hosted.endpoints}
    assert methods == {'/a': 'b', '/c': 'a'}
    with pytest.raises(runtime.LoadError, match=r"requests: /x: Pick has no method 'nope'"):
        runtime.load(str(source), [str(source)], '', [], {}, '', '', 'p/rep-0', '',
                     {'/x': 'nope'})


def test_load_errors_say_where(tmp_path):
    broken = tmp_path / 'broken.py'
    broken.write_text('x = 1\ndef f(:\n    pass\n')
    with pytest.raises(SyntaxError) as error:
        runtime.load(str(broken), [str(broken)], '', [], {}, '', '', 'b/rep-0', '')
    assert runtime.describe_load_error(error.value).startswith(f'{broken}:2: SyntaxError')
    failing = tmp_path / 'failing.py'
    failing.write_text('import os\n\nraise RuntimeError("at import")\n')
    with pytest.raises(RuntimeError) as error:
        runtime.load(str(failing), [str(failing)], '', [], {}, '', '', 'b/rep-0', '')
    assert runtime.describe_load_error(error.value) == (
        f"{failing}:3: RuntimeError: at import")
    no_docs = tmp_path / 'no_docs.py'
    no_docs.write_text(textwrap.dedent('''
        from shoal import Executor, requests

        class NoDocs(Executor):
            @requests
            def f(self, x):
                pass
    '''))
    with pytest.raises(runtime.LoadError, match=r'NoDocs.f\(\) must take `docs`'):
        runtime.load(str(no_docs), [str(no_docs)], '', [], {}, '', '', 'b/rep-0', '')


def _wait_ready(process, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith('ready port='):
            return int(line.split('=')[1])
        if not line and process.poll() is not None:
            break
    return None


def test_a_cloudpickled_class_is_served_without_rerunning_its_script(tmp_path):
    marker = tmp_path / 'ran'
    pickled = tmp_path / 'Counter.cloudpickle'
    script = tmp_path / 'script.py'
    script.write_text(textwrap.dedent(f'''
        import cloudpickle
        from shoal import Executor, requests

        with open({str(marker)!r}, 'a') as f:
            f.write('top level ran\\n')

        class Counter(Executor):
            @requests
            def count(self, docs, **kwargs):
                for doc in docs:
                    doc.text = 'counted'

        with open({str(pickled)!r}, 'wb') as f:
            cloudpickle.dump(Counter, f)
    '''))
    env = dict(os.environ)
    subprocess.run([sys.executable, str(script)], check=True, env=env, timeout=60)
    assert marker.read_text() == 'top level ran\n'
    replica = subprocess.Popen([SHOAL_BIN, 'executor', '--uses', str(pickled), '--host',
                                '127.0.0.1', '--port', '0'], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = _wait_ready(replica)
        assert port, replica.stderr.read() if replica.poll() is not None else 'no ready line'
        posted = subprocess.run([SHOAL_BIN, 'post', f'127.0.0.1:{port}', '--on', '/x',
                                 '--random', '3'], capture_output=True, text=True, timeout=60)
        assert posted.returncode == 0, posted.stderr
        assert '3 docs back' in posted.stdout
    finally:
        replica.terminate()
        replica.wait(timeout=30)
    assert 'Python Executor Counter' in replica.stderr.read()
    assert marker.read_text() == 'top level ran\n'
