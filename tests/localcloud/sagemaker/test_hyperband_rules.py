"""Hyperband's rules as AWS documents them (HyperbandStrategyConfig; the AWS blog that introduced it: asynchronous
successive halving): a trial is judged only at MinResource × 3^k epochs below MaxResource, never before
MinResource, and stopped once it reaches MaxResource; at a rung it carries on only among the best third of the
trials that reached it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.sagemaker.tuning.definition import Plan
from localcloud.sagemaker.tuning.search import hyperband_stops, rungs


def hyperband(min_resource: int, max_resource: int, epochs: int, *, maximize: bool = True) -> Plan:
    return Plan("Hyperband", (), "acc", maximize, 6, 2, False, min_resource, max_resource, epochs)


@pytest.mark.parametrize(
    ("min_resource", "max_resource", "expected"),
    [(1, 4, [1, 3]), (1, 9, [1, 3]), (1, 10, [1, 3, 9]), (2, 20, [2, 6, 18]), (3, 9, [3]), (5, 6, [5])],
)
def test_rungs_are_min_resource_times_three_to_the_k_below_max_resource(min_resource, max_resource, expected):
    assert rungs(hyperband(min_resource, max_resource, max_resource)) == expected


@given(
    min_resource=st.integers(1, 20),
    spread=st.integers(1, 200),
    values=st.lists(st.floats(0, 1), min_size=1, max_size=30),
    others=st.lists(st.lists(st.floats(0, 1), min_size=1, max_size=30), max_size=8),
)
def test_no_trial_is_stopped_before_min_resource_or_between_rungs(min_resource, spread, values, others):
    plan = hyperband(min_resource, min_resource + spread, min_resource + spread)
    epoch = len(values)
    if hyperband_stops(plan, values, others):
        assert epoch >= min_resource
        assert epoch in rungs(plan) or epoch >= plan.max_resource


def test_a_trial_set_to_train_past_max_resource_is_stopped_there():
    longer, exact = hyperband(1, 4, epochs=10), hyperband(1, 4, epochs=4)
    best = [0.9, 0.9, 0.9, 0.9]
    assert hyperband_stops(longer, best, [])
    assert not hyperband_stops(exact, best, [])  # it ends there by itself


@pytest.mark.parametrize("maximize", [True, False])
def test_at_a_rung_only_the_best_third_carries_on(maximize):
    plan = hyperband(1, 9, 9, maximize=maximize)
    others = [[0.1], [0.2], [0.3], [0.4], [0.5]]
    best, middling = (0.6, 0.35) if maximize else (0.05, 0.35)
    assert not hyperband_stops(plan, [best], others)
    assert hyperband_stops(plan, [middling], others)
    assert not hyperband_stops(plan, [middling], [])  # the first to reach a rung carries on
