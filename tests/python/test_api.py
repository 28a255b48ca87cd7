"""shoal.Deployment, shoal.Flow and shoal.Client: lifecycle, keys, posting, errors, YAML."""
import gc
import os
import textwrap
import threading

import pytest

import _shoal
from shoal import Client, Deployment, Flow
from shoal.client import BadServer


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
    assert os.path.exists(os.path.join(folder, 'Local.cloudpickle'))
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
