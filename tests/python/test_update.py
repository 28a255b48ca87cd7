"""Deployment.update and Flow.update: keys applied in place keep the replicas running and take
effect; keys that cannot change while running raise ValueError naming the key."""
import pytest

from shoal import Deployment, Flow
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc


def one():
    return DocList[TextDoc]([TextDoc(text='a')])


def pids(dep):
    return [pid for shard in dep.replica_pids() for pid in shard]


def test_update_applies_in_place_keys_without_restarting_replicas():
    with Deployment(name='upd', uses='Sleep', uses_with={'ms': 300}, replicas=2) as dep:
        before = pids(dep)
        dep.post('/x', inputs=one())
        dep.update(replicas=3, timeout_send=50, retries=0)
        after = pids(dep)
        assert len(after) == 3
        assert after[:2] == before
        with pytest.raises(Exception, match='timeout_send|Deadline Exceeded|the caller is gone'):
            dep.post('/x', inputs=one())
        dep.update(timeout_send=None, retries=-1)
        assert pids(dep) == after
        dep.post('/x', inputs=one())


def test_update_names_a_key_that_cannot_change():
    with Deployment(name='upd', uses='Echo') as dep:
        before = pids(dep)
        with pytest.raises(ValueError, match="'shards' cannot change while the Deployment runs"):
            dep.update(shards=2)
        assert pids(dep) == before


def test_flow_update_changes_one_executor():
    flow = Flow().add(name='a', uses='Echo').add(name='b', uses='Echo')
    with flow:
        flow.update('b', replicas=2)
        assert len(flow.replica_addresses('b')[0]) == 2
        assert len(flow.replica_addresses('a')[0]) == 1
        with pytest.raises(KeyError):
            flow.update('c', replicas=2)
