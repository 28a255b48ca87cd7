"""The `autoscaling` keyword of shoal.Deployment and Flow.add: passed to the orchestrator,
which starts within its bounds and reports bad keys by name."""
import pytest

from shoal import Deployment, Flow


def test_deployment_starts_with_replicas_clamped_to_the_bounds():
    with Deployment(name='auto', uses='Echo', replicas=5,
                    autoscaling={'min_replicas': 1, 'max_replicas': 2,
                                 'upscale_delay_s': 600, 'downscale_delay_s': 600}) as dep:
        assert len(dep.replica_addresses()[0]) == 2


def test_initial_replicas_is_the_starting_count_of_a_flow_executor():
    flow = Flow().add(name='auto', uses='Echo',
                      autoscaling={'min_replicas': 1, 'max_replicas': 3, 'initial_replicas': 3,
                                   'downscale_delay_s': 600})
    with flow:
        assert len(flow.replica_addresses('auto')[0]) == 3


def test_a_bad_key_is_named():
    dep = Deployment(name='auto', uses='Echo', autoscaling={'max_replica': 2})
    with pytest.raises(Exception, match=r"autoscaling\.max_replica: unknown key \(did you mean "
                                        r"'max_replicas'\?\)"):
        dep.start()


def test_autoscaling_must_be_a_dict():
    with pytest.raises(TypeError, match='autoscaling: expected a dict'):
        Deployment(uses='Echo', autoscaling=4)
