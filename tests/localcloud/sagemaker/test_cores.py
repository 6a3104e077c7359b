"""Endpoint instances as capacity: each runs on its own share of the machine's cores."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.sagemaker.cores import Cores, vcpus
from tests.localcloud.conftest import deploy_echo


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [("ml.m5.large", 2), ("ml.m5.xlarge", 4), ("ml.m5.2xlarge", 8), ("ml.c5.9xlarge", 36), ("ml.t2.medium", 2)],
)
def test_an_instance_types_vcpus_follow_aws_sizes(instance_type, expected):
    assert vcpus(instance_type) == expected


def test_instances_get_cores_of_their_own_until_the_machine_is_full():
    cores = Cores(vcpus_per_core=2, cores=[0, 1, 2, 3])
    first, second = cores.take("ml.m5.large"), cores.take("ml.m5.large")
    assert first[1] != second[1] and len(first[1]) == len(second[1]) == 1
    big = cores.take("ml.m5.xlarge")  # 4 vCPUs: two cores, the two nobody holds
    assert sorted(big[1]) == sorted({0, 1, 2, 3} - set(first[1]) - set(second[1]))
    assert cores.report()["oversubscribed"] is False
    extra = cores.take("ml.m5.large")
    assert cores.report() == {"machine_cores": 4, "instance_cores": 5, "vcpus_per_core": 2, "oversubscribed": True}
    cores.give(extra[0])
    assert cores.report()["oversubscribed"] is False


@given(st.lists(st.sampled_from(["ml.m5.large", "ml.m5.xlarge", "ml.m5.4xlarge", "ml.t2.medium"]), max_size=12))
def test_cores_spread_evenly_over_the_machine(types):
    cores = Cores(vcpus_per_core=2, cores=[0, 1, 2])
    held = [cores.take(t)[1] for t in types]
    load = [sum(core in h for h in held) for core in (0, 1, 2)]
    assert max(load, default=0) - min(load, default=0) <= 1
    assert all(1 <= len(h) <= 3 and len(set(h)) == len(h) for h in held)


def test_each_endpoint_instance_is_pinned_to_its_cores(cloud):
    deploy_echo(cloud, "pinned", instances=2)
    cloud.wait_endpoint("pinned")
    health = cloud.health()
    pids = health["endpoint_instances"]["pinned"]
    affinities = [os.sched_getaffinity(pid) for pid in pids]
    machine = len(os.sched_getaffinity(0))
    assert len(pids) == 2 and all(len(a) == 1 for a in affinities)  # ml.m5.large: 2 vCPUs, one core
    if machine >= 2:
        assert affinities[0] != affinities[1]
    assert health["endpoint_cores"]["instance_cores"] == 2
    assert health["endpoint_cores"]["oversubscribed"] is (machine < 2)
    cloud.client("sagemaker").delete_endpoint(EndpointName="pinned")
