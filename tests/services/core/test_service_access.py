"""Roles, claims, the viewer hook and the guests' rate limit, without a cloud."""

from types import SimpleNamespace

import pytest

from services.core.access import (
    Caller,
    NotAllowed,
    RateLimiter,
    is_read_only,
    refuse_changes_for_viewers,
    require_operator,
    role_from_claims,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("operation", "read_only"),
    [
        ("DescribeEndpoint", True),
        ("ListFunctions", True),
        ("InvokeEndpoint", True),
        ("Invoke", True),
        ("GetObject", True),
        ("CreateEndpoint", False),
        ("PutRolePolicy", False),
        ("DeleteObject", False),
        ("StopTrainingJob", False),
        ("UpdateFunctionCode", False),
    ],
)
def test_only_reads_and_invocations_count_as_read_only(operation, read_only):
    assert is_read_only(operation) is read_only


def test_the_viewer_hook_refuses_a_change_and_lets_a_read_through():
    service_model = SimpleNamespace(service_name="sagemaker")
    refuse_changes_for_viewers(SimpleNamespace(name="DescribeEndpoint", service_model=service_model))
    with pytest.raises(NotAllowed, match="CreateEndpoint"):
        refuse_changes_for_viewers(SimpleNamespace(name="CreateEndpoint", service_model=service_model))


def test_require_operator():
    require_operator(Caller("ana", "operator"), "apply policies")
    with pytest.raises(NotAllowed) as raised:
        require_operator(Caller(None, "viewer"), "apply policies")
    assert raised.value.code == "NotOperator" and "apply policies" in raised.value.message


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"groups": ["staff", "operator"]}, "operator"),
        ({"groups": "operator"}, "operator"),
        ({"groups": ["staff"]}, "viewer"),
        ({}, "viewer"),
    ],
)
def test_role_from_an_oidc_claim(claims, role):
    assert role_from_claims(claims, "groups", ["operator"]) == role


def test_rate_limiter_allows_a_burst_then_refills_with_time():
    clock = FakeClock()
    limiter = RateLimiter(3, 6.0, clock)
    assert [limiter.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take() == pytest.approx(6.0)
    clock.now += 3
    assert limiter.take() == pytest.approx(3.0)
    clock.now += 3
    assert limiter.take() == 0.0
    assert limiter.take() == pytest.approx(6.0)
