"""Python Executors through shoal.Deployment and shoal.Flow: classes (pickled, never re-running
the caller's script), classes from the caller's modules (PYTHONPATH), `x.py:Class` paths,
and Executor errors."""
import os
import textwrap

import pytest

from shoal import Deployment, Executor, Flow, requests
from shoal.client import BadServer
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


def text_docs(*texts):
    return DocList[TextDoc]([TextDoc(text=t) for t in texts])


class Upper(Executor):
    @requests
    def upper(self, docs, **kwargs):
        for doc in docs:
            doc.text = doc.text.upper()


class Suffix(Executor):
    def __init__(self, suffix='!', *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.suffix = suffix

    @requests(on='/add')
    def add(self, docs, parameters, **kwargs):
        for doc in docs:
            doc.text = doc.text + self.suffix + parameters.get('extra', '')


class Raises(Executor):
    @requests
    def fail(self, docs, parameters, **kwargs):
        if parameters.get('fail'):
            raise ValueError('refused on purpose')


def test_a_class_defined_here_serves_from_every_replica():
    with Deployment(uses=Upper, replicas=2) as dep:
        docs = dep.post('/x', text_docs('a', 'b', 'c'), request_size=1,
                        return_type=DocList[TextDoc])
    assert sorted(d.text for d in docs) == ['A', 'B', 'C']


def test_uses_with_and_parameters_reach_the_executor():
    with Deployment(uses=Suffix, uses_with={'suffix': '?'}) as dep:
        docs = dep.post('/add', text_docs('a'), parameters={'extra': '+'},
                        return_type=DocList[TextDoc])
    assert [d.text for d in docs] == ['a?+']


def test_a_flow_of_python_executors():
    flow = Flow().add(name='upper', uses=Upper, replicas=2).add(name='suffix', uses=Suffix)
    with flow:
        docs = flow.post('/add', text_docs('a', 'b'), return_type=DocList[TextDoc])
    assert sorted(d.text for d in docs) == ['A!', 'B!']


def test_a_class_from_the_callers_module_imports_in_replicas(tmp_path, monkeypatch):
    # Pickled by reference: the replicas import `caller_module` through the PYTHONPATH they
    # get from the caller's sys.path.
    (tmp_path / 'caller_module.py').write_text(textwrap.dedent('''\
        from shoal import Executor, requests

        class Reverse(Executor):
            @requests
            def reverse(self, docs, **kwargs):
                for doc in docs:
                    doc.text = doc.text[::-1]
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import caller_module
    with Deployment(uses=caller_module.Reverse) as dep:
        docs = dep.post('/x', text_docs('abc'), return_type=DocList[TextDoc])
    assert [d.text for d in docs] == ['cba']


def test_a_script_without_main_guard_is_not_re_run(tmp_path):
    # The script's top level starts a Deployment of a class it defines; were replicas to run
    # the script again, each would start Deployments of its own.
    marker = tmp_path / 'runs'
    script = tmp_path / 'script.py'
    script.write_text(textwrap.dedent(f'''\
        from shoal import Deployment, Executor, requests
        from shoal.docarray import DocList
        from shoal.docarray.documents import TextDoc

        with open({str(marker)!r}, 'a') as f:
            f.write('run\\n')

        class Upper(Executor):
            @requests
            def upper(self, docs, **kwargs):
                for doc in docs:
                    doc.text = doc.text.upper()

        with Deployment(uses=Upper, replicas=2) as dep:
            docs = dep.post('/x', DocList[TextDoc]([TextDoc(text='x')]),
                            return_type=DocList[TextDoc])
            print('answer', docs[0].text)
        '''))
    import subprocess
    import sys
    import shoal
    env = {**os.environ,
           'PYTHONPATH': os.path.dirname(os.path.dirname(os.path.abspath(shoal.__file__)))}
    if env.get('SHOAL_BIN'):
        env['SHOAL_BIN'] = os.path.abspath(env['SHOAL_BIN'])
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'answer X' in result.stdout
    assert marker.read_text() == 'run\n'


def test_uses_a_file_and_class_path(tmp_path):
    (tmp_path / 'ex.py').write_text(textwrap.dedent('''\
        from shoal import Executor, requests

        class Twice(Executor):
            @requests
            def twice(self, docs, **kwargs):
                for doc in docs:
                    doc.text = doc.text * 2
        '''))
    with Deployment(uses=f'{tmp_path}/ex.py:Twice') as dep:
        docs = dep.post('/x', text_docs('ab'), return_type=DocList[TextDoc])
    assert [d.text for d in docs] == ['abab']


def test_a_python_error_answers_jinas_error_shape_and_the_replica_keeps_serving():
    with Deployment(uses=Raises) as dep:
        with pytest.raises(BadServer, match='ValueError.*refused on purpose'):
            dep.post('/x', text_docs('a'), parameters={'fail': True})
        errors = []
        dep.post('/x', text_docs('a'), parameters={'fail': True}, on_error=errors.append)
        assert errors[0].status.code == 3
        assert errors[0].status.exception.name == 'ValueError'
        assert 'refused on purpose' in errors[0].status.description
        assert len(dep.post('/x', text_docs('a'))) == 1


def test_a_syntax_error_in_uses_fails_the_start_naming_file_and_line(tmp_path):
    (tmp_path / 'broken.py').write_text('x = 1\ndef oops(:\n')
    dep = Deployment(uses=f'{tmp_path}/broken.py:Oops')
    with pytest.raises(RuntimeError, match=r'broken.py:2: SyntaxError'):
        dep.start()
    assert os.path.exists(tmp_path / 'broken.py')


def test_uses_an_executor_yaml_with_py_modules(tmp_path):
    (tmp_path / 'exe.py').write_text(textwrap.dedent('''\
        from shoal import Executor, requests

        class Prefix(Executor):
            def __init__(self, prefix='', *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.prefix = prefix

            @requests
            def prefix_text(self, docs, **kwargs):
                for doc in docs:
                    doc.text = self.prefix + doc.text
        '''))
    (tmp_path / 'exe.yml').write_text('jtype: Prefix\nwith:\n  prefix: "> "\n'
                                      'py_modules:\n  - exe.py\n')
    with Deployment(uses=str(tmp_path / 'exe.yml'), uses_with={'prefix': '>> '}) as dep:
        docs = dep.post('/x', text_docs('a'), return_type=DocList[TextDoc])
    assert [d.text for d in docs] == ['>> a']  # uses_with overrides the YAML's with:


class Environment(Executor):
    @requests
    def read(self, docs, **kwargs):
        for doc in docs:
            doc.text = os.environ.get(doc.text, '')


def test_env_reaches_replicas_and_flow_env_is_inherited():
    with Deployment(uses=Environment, env={'SHOAL_TEST_A': 'a'}) as dep:
        docs = dep.post('/x', text_docs('SHOAL_TEST_A'), return_type=DocList[TextDoc])
    assert [d.text for d in docs] == ['a']
    flow = Flow(env={'SHOAL_TEST_A': 'flow', 'SHOAL_TEST_B': 'flow'}).add(
        uses=Environment, env={'SHOAL_TEST_B': 'own'})
    with flow:
        docs = flow.post('/x', text_docs('SHOAL_TEST_A', 'SHOAL_TEST_B'),
                         results_in_order=True, request_size=1, return_type=DocList[TextDoc])
    assert [d.text for d in docs] == ['flow', 'own']
