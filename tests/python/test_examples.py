"""The seed's Python programs in examples/python, run as they are and checked by their output.

Programs that block (`d.block()`) run as subprocesses, are checked while they serve, and are
then ended by pid with SIGTERM (which `block()` turns into a clean stop)."""
import collections
import os
import re
import runpy
import signal
import subprocess
import sys
import time

import pytest

import shoal
from shoal import Client
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples',
                        'python')
READY = re.compile(r"Deployment '[^']+' serving on \S+:(\d+)")
REPLICA_PID = re.compile(r'\S+/rep-\d+@(\d+)')


def program_env(extra=None):
    """The environment of an example run in another folder: the package by absolute path."""
    env = {**os.environ, **(extra or {}),
           'PYTHONPATH': os.path.dirname(os.path.dirname(os.path.abspath(shoal.__file__)))}
    if env.get('SHOAL_BIN'):
        env['SHOAL_BIN'] = os.path.abspath(env['SHOAL_BIN'])
    return env


def example(name):
    return os.path.abspath(os.path.join(EXAMPLES, name))


class Program:
    """An example program run as a subprocess, its stdout and stderr in one log file."""

    def __init__(self, name, cwd, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, 'w')
        self.proc = subprocess.Popen([sys.executable, example(name)], cwd=cwd,
                                     env=program_env(env), stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for(self, pattern, timeout=120):
        """The first match of `pattern` in the output; fails when the program exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output())
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f'no {pattern!r} in the output (exit code {self.proc.poll()}):\n'
                    f'{self.output()[-4000:]}')

    def replica_pids(self):
        return {int(pid) for pid in REPLICA_PID.findall(self.output())}

    def stop(self):
        """SIGTERM, then the exit code; SIGKILL if it does not stop within 60 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        self.log.close()
        return code


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_and_check(program):
    replicas = program.replica_pids()
    assert program.stop() == 0, program.output()[-4000:]
    assert replicas and not any(alive(pid) for pid in replicas)


def test_stateful_dict_executor(tmp_path):
    program = Program('stateful_executor.py', tmp_path, tmp_path / 'log')
    try:
        port = int(program.wait_for(READY).group(1))
        client = Client(port=port)
        docs = DocList[TextDoc]([TextDoc(text=f'text {i}') for i in range(20)])
        client.post('/index', docs, request_size=5)
        queries = DocList[TextDoc]([TextDoc(id=d.id) for d in docs])
        # Reads are eventual (any replica answers): a follower may still be applying the writes.
        for _ in range(50):
            try:
                found = client.post('/search', queries, return_type=DocList[TextDoc])
                break
            except RuntimeError:
                time.sleep(0.2)
        assert [d.text for d in found] == [f'text {i}' for i in range(20)]
    finally:
        stop_and_check(program)


def test_indexer_server_and_client(tmp_path):
    server = Program('indexer_server.py', tmp_path, tmp_path / 'server.log')
    try:
        assert server.wait_for(READY).group(1) == '5555'
        client = subprocess.run([sys.executable, example('indexer_client.py')], cwd=tmp_path,
                                env=program_env(), capture_output=True, text=True,
                                timeout=600)
        assert client.returncode == 0, client.stderr[-4000:]
        lines = client.stdout.splitlines()
        assert len(lines) == 100, client.stdout[-2000:]
        assert all('length=10' in line for line in lines), lines[:3]  # 10 matches each
        # Every replica applied all 100 writes of 100 docs, in order: 0, 100, ... 9900 before.
        indexed = collections.defaultdict(list)
        for replica, count in re.findall(
                r'(\S+/rep-\d+)@\d+.*Indexing Document in index with (\d+) documents indexed',
                server.output()):
            indexed[replica].append(int(count))
        assert sorted(indexed) == ['indexer/rep-0', 'indexer/rep-1', 'indexer/rep-2']
        for replica, counts in indexed.items():
            assert counts == list(range(0, 10000, 100)), replica
        searched = re.findall(r'Searching Document in index with (\d+) documents indexed',
                              server.output())
        assert len(searched) == 100 and set(searched) == {'10000'}
        assert (tmp_path / 'raft').is_dir()
    finally:
        stop_and_check(server)


def test_replicas_deployment():
    dep = runpy.run_path(example('replicas_deployment.py'))['dep']
    with dep:
        assert len(dep.replica_addresses()[0]) == 3
        docs = dep.post('/', DocList[TextDoc]([TextDoc(text=str(i)) for i in range(9)]),
                        request_size=1, return_type=DocList[TextDoc])
        assert sorted(d.text for d in docs) == [str(i) for i in range(9)]
        pids = [pid for shard in dep.replica_pids() for pid in shard]
    assert not any(alive(pid) for pid in pids)


def test_replicas_flow():
    f = runpy.run_path(example('replicas_flow.py'))['f']
    with f:
        assert len(f.replica_addresses('slow_encoder')[0]) == 3
        assert len(f.replica_addresses('fast_indexer')[0]) == 1
        docs = f.post('/', DocList[TextDoc]([TextDoc(text=str(i)) for i in range(9)]),
                      request_size=1, return_type=DocList[TextDoc])
        assert sorted(d.text for d in docs) == [str(i) for i in range(9)]


def test_streaming_flow():
    run = subprocess.run([sys.executable, example('streaming_flow.py')], env=program_env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ['HELLO', 'FROM', 'A', 'STREAMING', 'FLOW']


def gpu_count():
    try:
        listing = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True,
                                 timeout=10)
        if listing.returncode == 0 and 'UUID' in listing.stdout:
            return listing.stdout.count('UUID'), {}
    except (OSError, subprocess.TimeoutExpired):
        pass
    return 3, {'CUDA_TOTAL_DEVICES': '3'}  # no GPU here: the count Jina falls back on


def test_sigterm_before_block_stops_the_replicas(tmp_path):
    # A SIGTERM between the start and block() (here: no block() at all) ends the program through
    # its `with` block, which stops the replicas, instead of killing it where it stands.
    script = tmp_path / 'serve_without_block.py'
    script.write_text('import time\n'
                      'from shoal import Deployment\n'
                      'with Deployment(uses="Echo", replicas=2):\n'
                      '    time.sleep(120)\n')
    program = Program(str(script), tmp_path, tmp_path / 'log')
    try:
        program.wait_for(READY)
    finally:
        stop_and_check(program)


def test_gpu_round_robin(tmp_path):
    count, env = gpu_count()
    program = Program('gpu_deployment.py', EXAMPLES, tmp_path / 'log',
                      env={'CUDA_VISIBLE_DEVICES': 'RR', **env})
    try:
        program.wait_for(READY)
        devices = dict(re.findall(r'executor/rep-(\d+)@\d+.*CUDA_VISIBLE_DEVICES=(\S*)',
                                  program.output()))
        assert devices == {str(i): str(i % count) for i in range(5)}
    finally:
        stop_and_check(program)
