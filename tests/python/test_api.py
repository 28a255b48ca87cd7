"""shoal.Deployment, shoal.Flow and shoal.Client: lifecycle, keys, posting, errors, YAML."""
import gc
import os
import textwrap
import threading
import time

import pytest

from shoal import Client, Deployment, Flow
from shoal.client import BadServer
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def all_pids(deployment):
    return [pid for shard in deployment.replica_pids() for pid in shard]


# --- keys --------------------------------------------------------------------------------------

def test_unknown_key_is_type_error_naming_it():
    with pytest.raises(TypeError, match='replica_count'):
        Deployment(uses='Echo', replica_count=3)
    with pytest.raises(TypeError, match='replica_count'):
        Flow().add(uses='Echo', replica_count=3)
    with pytest.raises(TypeError, match='portt'):
        Flow(portt=1)


def test_unsupported_jina_key_is_type_error_naming_it():
    with pytest.raises(TypeError, match="'uses_before' is not supported"):
        Deployment(uses='Echo', uses_before='Echo')
    # At its default value it is accepted.
    Deployment(uses='Echo', uses_before=None)


def test_ignored_jina_key_warns():
    with pytest.warns(UserWarning, match='install_requirements'):
        Deployment(uses='Echo', install_requirements=True)


def test_wrong_type_names_the_key():
    with pytest.raises((TypeError, ValueError), match='replicas'):
        Deployment(uses='Echo', replicas='three')


def test_a_value_json_cannot_hold_names_the_key():
    with pytest.raises(TypeError, match='uses_with'):
        Deployment(uses='Echo', uses_with={'weights': object()})


def test_a_rejected_class_deployment_leaves_no_temp_dir(monkeypatch):
    import tempfile
    made = []
    real = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, 'mkdtemp', lambda **kw: made.append(real(**kw)) or made[-1])

    class Local:
        pass

    with pytest.raises(TypeError, match='replica_count'):
        Deployment(uses=Local, replica_count=2)
    assert made and not os.path.exists(made[0])


def test_http_deployment_and_client_are_clear_errors():
    with pytest.raises(ValueError, match="protocol 'http'"):
        Deployment(uses='Echo', protocol='http')
    with pytest.raises(ValueError, match="protocol='http'"):
        Client(port=1, protocol='http')


def test_uses_metas_workspace_and_unsupported_metas(tmp_path):
    Deployment(uses='Echo', uses_metas={'workspace': str(tmp_path)})
    with pytest.raises(TypeError, match='py_modules'):
        Deployment(uses='Echo', uses_metas={'py_modules': ['x.py']})


# --- lifecycle ---------------------------------------------------------------------------------

def test_context_manager_starts_and_stops_every_replica():
    with Deployment(name='echo', uses='Echo', replicas=3) as dep:
        assert dep.port > 0
        pids = all_pids(dep)
        assert len(pids) == 3 and all(alive(p) for p in pids)
        assert [len(shard) for shard in dep.replica_addresses()] == [3]
    assert not any(alive(p) for p in pids)


def test_a_deployment_dropped_without_stop_stops_its_replicas():
    dep = Deployment(uses='Echo', replicas=2)
    dep.start()
    pids = all_pids(dep)
    assert all(alive(p) for p in pids)
    del dep
    gc.collect()
    assert not any(alive(p) for p in pids)


def test_flow_of_two_starts_and_stops():
    flow = Flow().add(name='first', uses='Echo', replicas=2).add(name='second', uses='Echo')
    with flow:
        assert flow.port > 0
        assert len(flow.replica_addresses('first')[0]) == 2
        assert len(flow.replica_addresses('second')[0]) == 1
    assert flow.replica_addresses('first') == []


def test_unknown_uses_fails_at_start_naming_it():
    dep = Deployment(uses='NoSuchExecutor')
    with pytest.raises(RuntimeError, match='NoSuchExecutor'):
        dep.start()


def test_class_uses_is_pickled_under_a_temp_dir_removed_with_the_object():
    class Local:
        pass

    dep = Deployment(uses=Local)
    folder = dep._uses_files.tmpdir
    assert os.path.exists(os.path.join(folder, 'executor', 'Local.cloudpickle'))
    del dep
    gc.collect()
    assert not os.path.exists(folder)


def test_class_uses_is_pickled_under_the_workspace(tmp_path):
    class Local:
        pass

    Deployment(name='indexer', uses=Local, workspace=str(tmp_path))
    assert (tmp_path / 'indexer' / 'Local.cloudpickle').exists()


def test_replicas_get_the_callers_sys_path_as_pythonpath(monkeypatch, tmp_path):
    import sys
    from shoal.orchestrate import _deployment_options, _Uses
    monkeypatch.syspath_prepend(str(tmp_path))
    options = _deployment_options('Deployment()', _Uses(), {'env': {'PYTHONPATH': '/extra'}})
    entries = options['env']['PYTHONPATH'].split(os.pathsep)
    assert entries[0] == '/extra'
    assert str(tmp_path) in entries
    assert len(entries) >= len([p for p in sys.path if p])


def test_block_returns_when_the_stop_event_is_set():
    with Deployment(uses='Echo') as dep:
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        dep.block(stop_event=stop)
        assert stop.is_set()


# --- YAML --------------------------------------------------------------------------------------

def test_deployment_load_config(tmp_path):
    path = tmp_path / 'dep.yml'
    path.write_text(textwrap.dedent('''\
        jtype: Deployment
        with:
          name: echo
          uses: Echo
          replicas: 2
          host: 127.0.0.1
        '''))
    dep = Deployment.load_config(str(path))
    with dep:
        assert len(dep.replica_addresses()[0]) == 2
        pids = all_pids(dep)
    assert not any(alive(p) for p in pids)


def test_flow_load_config(tmp_path):
    path = tmp_path / 'flow.yml'
    path.write_text(textwrap.dedent('''\
        jtype: Flow
        with:
          host: 127.0.0.1
        executors:
          - name: a
            uses: Echo
            replicas: 2
          - name: b
            uses: Echo
        '''))
    with Flow.load_config(path) as flow:
        assert len(flow.replica_addresses('a')[0]) == 2


def test_load_config_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / 'bad.yml'
    path.write_text('jtype: Deployment\nwith:\n  uses: Echo\n  replicaz: 2\n')
    with pytest.raises(ValueError, match=r'bad.yml:4.*replicaz'):
        Deployment.load_config(str(path))
    with pytest.raises(FileNotFoundError, match='missing.yml'):
        Flow.load_config(str(tmp_path / 'missing.yml'))


# --- posting -----------------------------------------------------------------------------------


class Served(TextDoc):
    served_by: str = ''


def text_docs(n):
    return DocList[TextDoc]([TextDoc(text=str(i)) for i in range(n)])


@pytest.fixture(scope='module')
def echo3():
    with Deployment(name='echo', uses='Echo', replicas=3) as dep:
        yield dep


def test_replicas_3_each_serve(echo3):
    docs = echo3.post('/x', text_docs(30), request_size=1, return_type=DocList[Served])
    assert sorted(d.text for d in docs) == sorted(str(i) for i in range(30))
    assert {d.served_by for d in docs} == {'echo/rep-0', 'echo/rep-1', 'echo/rep-2'}


def test_default_return_type_reads_any_field(echo3):
    docs = echo3.post('/x', text_docs(2))
    assert [d.text for d in docs] == ['0', '1']
    assert docs[0].served_by.startswith('echo/rep-')


def test_flow_of_two_passes_docs_through_both():
    flow = Flow().add(name='first', uses='Echo', replicas=2).add(name='second', uses='Echo')
    with flow:
        docs = flow.post('/x', text_docs(10), request_size=3, return_type=DocList[Served])
    assert sorted(d.text for d in docs) == sorted(str(i) for i in range(10))
    assert {d.served_by for d in docs} == {'second/rep-0'}


def test_client_batches_by_request_size(echo3):
    client = Client(port=echo3.port)
    sizes = []
    assert client.post('/x', text_docs(30), request_size=7,
                       on_done=lambda r: sizes.append(len(r.docs))) is None
    assert sorted(sizes) == [2, 7, 7, 7, 7]
    sizes.clear()
    client.post('/x', text_docs(5), request_size=0, on_done=lambda r: sizes.append(len(r.docs)))
    assert sizes == [5]
    sizes.clear()
    client.post('/x', None, on_always=lambda r: sizes.append(len(r.docs)))
    assert sizes == [0]


def test_client_inputs_forms(echo3):
    client = Client(host=f'grpc://127.0.0.1:{echo3.port}')
    generated = client.post('/x', (TextDoc(text=str(i)) for i in range(10)), request_size=3)
    assert sorted(d.text for d in generated) == [str(i) for i in range(10)]
    listed = client.post('/x', [TextDoc(text='a'), TextDoc(text='b')],
                         results_in_order=True, request_size=1)
    assert [d.text for d in listed] == ['a', 'b']
    single = client.post('/x', TextDoc(text='one'), return_type=TextDoc)
    assert isinstance(single, TextDoc) and single.text == 'one'
    with pytest.raises(TypeError, match='int'):
        client.post('/x', [1, 2])


def test_results_in_order_keeps_request_order(echo3):
    docs = Client(port=echo3.port).post('/x', text_docs(50), request_size=1,
                                       results_in_order=True)
    assert [d.text for d in docs] == [str(i) for i in range(50)]


def test_show_progress_still_returns_the_docs(echo3, capsys):
    docs = echo3.post('/x', text_docs(20), request_size=5, show_progress=True)
    assert len(docs) == 20
    assert '4req' in capsys.readouterr().err  # tqdm's bar counted the 4 requests


def test_a_callback_exception_propagates(echo3):
    def boom(response):
        raise KeyError('from the callback')

    with pytest.raises(KeyError, match='from the callback'):
        echo3.post('/x', text_docs(3), request_size=1, on_done=boom)


def test_bad_post_key_is_type_error(echo3):
    with pytest.raises(TypeError, match='request_sise'):
        echo3.post('/x', text_docs(1), request_sise=1)


@pytest.fixture(scope='module')
def failing():
    with Deployment(name='fail', uses='Fail') as dep:
        yield dep


def test_executor_error_raises_bad_server_with_its_name_and_message(failing):
    with pytest.raises(BadServer, match='failed on purpose') as info:
        failing.post('/x', text_docs(2), parameters={'fail': True})
    assert 'Error' in str(info.value)
    # The replica keeps serving.
    assert len(failing.post('/x', text_docs(2))) == 2


def test_executor_error_reaches_on_error_with_jinas_status(failing):
    errors, always = [], []
    docs = failing.post('/x', text_docs(4), request_size=2, parameters={'fail': True},
                        on_error=errors.append, on_always=always.append)
    assert docs is None  # on_always given: Jina returns None
    assert len(errors) == 2 and len(always) == 2
    status = errors[0].status
    assert status.code == 3 and 'failed on purpose' in status.description
    assert status.exception.name
    # Only on_error: the answers still come back.
    assert len(failing.post('/x', text_docs(4), parameters={'fail': True},
                            on_error=lambda r: None)) == 4
    # continue_on_error: no exception.
    failing.post('/x', text_docs(1), parameters={'fail': True}, continue_on_error=True)


def test_unreachable_server_is_connection_error():
    client = Client(port=1)  # connects on the first post, as Jina's
    with pytest.raises(ConnectionError, match='127.0.0.1:1'):
        client.post('/x', text_docs(1))
    assert not client.is_flow_ready(timeout=0.5)
    with pytest.raises(ConnectionError):
        Client(port=1, connect_timeout=0.5)


def test_post_releases_the_gil():
    """Another thread runs Python while a post waits for an Executor that sleeps 10 s: were
    the GIL held during the post, that thread could not resume before the answer came."""
    with Deployment(uses='Sleep') as dep:
        started, answers = threading.Event(), []

        def post():
            started.set()
            answers.append(dep.post('/x', text_docs(1), parameters={'ms': 10000}))

        thread = threading.Thread(target=post)
        began = time.monotonic()
        thread.start()
        started.wait(10)
        threading.Event().wait(0.2)
        assert time.monotonic() - began < 10
        thread.join(60)
        assert len(answers) == 1


def test_external_deployment_routes_to_the_given_replicas(echo3):
    addresses = echo3.replica_addresses()[0]
    with Deployment(name='ext', external=True, host=addresses) as ext:
        docs = ext.post('/x', text_docs(30), request_size=1, return_type=DocList[Served])
    assert {d.served_by for d in docs} == {'echo/rep-0', 'echo/rep-1', 'echo/rep-2'}
    with pytest.raises(ValueError, match='does not match'):
        Deployment(external=True, host=['127.0.0.1', '127.0.0.2'], port=[1, 2, 3])


def test_stateful_without_workspace_uses_a_temporary_one():
    dep = Deployment(name='counter', uses='Counter', replicas=3, stateful=True,
                     raft_configuration={'election_timeout': 500, 'heartbeat_timeout': 500})
    workspace = os.path.join(dep._uses_files.tmpdir, 'counter-workspace')
    with dep:
        dep.post('/index', text_docs(10), request_size=2)
        counts = set()
        for _ in range(100):  # eventual reads: any replica answers
            counts = {d.text for d in dep.post('/count', text_docs(1), request_size=1)}
            if counts == {'10'}:
                break
            time.sleep(0.1)
        assert counts == {'10'}
        assert os.path.isdir(workspace)
    del dep
    gc.collect()
    assert not os.path.exists(workspace)


def test_flow_joins_and_two_protocols():
    flow = (Flow(protocol=['grpc', 'http'])
            .add(name='a', uses='Echo')
            .add(name='b', uses='Echo', needs='gateway')
            .needs_all())
    with flow:
        assert flow.port > 0 and flow.http_port > 0 and flow.port != flow.http_port
        docs = flow.post('/x', text_docs(4), return_type=DocList[Served])
    assert sorted(d.text for d in docs) == ['0', '1', '2', '3']
    # Both branches answered; the join merges by id, the last of `needs` winning.
    assert {d.served_by for d in docs} == {'b/rep-0'}


def test_stop_while_posts_are_in_flight():
    """Every post either answers or raises RuntimeError; nothing crashes, no replica is left."""
    dep = Deployment(uses='Echo', replicas=2)
    dep.start()
    pids = all_pids(dep)
    outcomes = []

    def post():
        for _ in range(100):
            try:
                outcomes.append(len(dep.post('/x', text_docs(10), request_size=1)))
            except RuntimeError:
                outcomes.append('refused')

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(3000):  # until the first answer, at most 30 s
        if outcomes:
            break
        time.sleep(0.01)
    dep.stop()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 400 and set(outcomes) <= {10, 'refused'}
    assert not any(alive(p) for p in pids)


def test_shards_and_a_polling_map():
    with Deployment(name='e', uses='Echo', shards=2,
                    polling={'/custom': 'ALL', '*': 'ANY'}) as dep:
        def served_by(endpoint):
            docs = dep.post(endpoint, text_docs(20), request_size=1, return_type=DocList[Served])
            assert len(docs) == 20
            return {d.served_by for d in docs}

        # ALL: both shards answer, merged by id in shard order (the last shard's value wins).
        assert served_by('/custom') == {'e/shard-1/rep-0'}
        assert served_by('/search') == {'e/shard-1/rep-0'}  # Jina's default for /search
        assert served_by('/index') == {'e/shard-0/rep-0', 'e/shard-1/rep-0'}  # ANY


def test_peer_ports_and_external_hosts_forms():
    from shoal.orchestrate import _external_hosts, _peer_ports
    assert _peer_ports([1, 2, 3]) == [[1, 2, 3]]
    assert _peer_ports({'1': [4, 5], '0': [1, 2]}) == [[1, 2], [4, 5]]
    assert _peer_ports([[1], [2]]) == [[1], [2]]
    assert _external_hosts(['a', 'b'], 5, False) == ['a:5', 'b:5']
    assert _external_hosts('a', '1,2', True) == ['grpcs://a:1', 'grpcs://a:2']
    assert _external_hosts(['a:7', 'grpc://b:8'], None, False) == ['a:7', 'grpc://b:8']


def test_target_executor_reaches_only_the_matching_executor():
    flow = Flow().add(name='first', uses='Echo').add(name='second', uses='Echo')
    with flow:
        docs = Client(port=flow.port).post('/x', text_docs(3), target_executor='first',
                                           return_type=DocList[Served])
    assert {d.served_by for d in docs} == {'first/rep-0'}
