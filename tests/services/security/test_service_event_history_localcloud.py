"""The event history (services/security/event_history.py): pages of LookupEvents against localcloud, and the
checks that refuse, in words, what LookupEvents would refuse."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.clients import CloudSettings, make_client
from services.core.errors import ServiceError
from services.security.event_history import EventHistoryService, attribute_keys, check_lookup, history_event

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def test_the_filter_offers_botocore_s_lookup_attribute_keys() -> None:
    assert attribute_keys() == (
        "EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"
    )  # fmt: skip


@given(key=st.sampled_from([None, *attribute_keys(), "eventname", "Region"]), value=st.text(max_size=2100))
def test_a_lookup_is_either_sent_or_refused_in_words(key: str | None, value: str) -> None:
    try:
        check_lookup(key, value, NOW - timedelta(hours=1), NOW)
    except ServiceError as exc:
        assert exc.message and key is not None
        return
    assert key is None or (key in attribute_keys() and 1 <= len(value) <= 2000)


def test_a_start_after_the_end_is_refused() -> None:
    with pytest.raises(ServiceError, match="The start of the time range must be before its end."):
        check_lookup(None, "", NOW, NOW - timedelta(seconds=1))


def test_an_event_reads_as_the_console_row_with_access_keys_hidden() -> None:
    record = {
        "eventName": "InvokeEndpoint",
        "readOnly": False,
        "errorCode": "AccessDenied",
        "errorMessage": "no policy allows it",
        "userIdentity": {"accessKeyId": "ASIAABCDEFGHIJKLMNOP"},
    }
    event = history_event(
        {
            "EventId": "e1",
            "EventName": "InvokeEndpoint",
            "EventTime": NOW,
            "Username": "dog-breed-lambda",
            "EventSource": "runtime.sagemaker.amazonaws.com",
            "Resources": [{"ResourceType": "AWS::SageMaker::Endpoint", "ResourceName": "dog-breed-endpoint"}],
            "CloudTrailEvent": json.dumps(record),
        }
    )
    assert (event.user, event.name, event.resources, event.read_only) == (
        "dog-breed-lambda",
        "InvokeEndpoint",
        ("dog-breed-endpoint",),
        False,
    )
    assert event.error == "AccessDenied: no policy allows it"
    assert event.record["userIdentity"]["accessKeyId"] == "<access key>"


def test_pages_continue_the_same_lookup(aws_env) -> None:
    sagemaker = make_client("sagemaker", CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    start = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(60):
        sagemaker.list_endpoints()
    service = EventHistoryService(CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    end = datetime.now(UTC) + timedelta(seconds=1)
    first = service.page("EventName", "ListEndpoints", start, end)
    assert len(first.events) == 50 and first.next_token
    second = service.page("EventName", "ListEndpoints", start, end, first.next_token)
    assert len(second.events) == 10 and second.next_token is None
    times = [e.time for e in first.events + second.events]
    assert times == sorted(times, reverse=True)  # newest first, across the pages
    assert len({e.event_id for e in first.events + second.events}) == 60
    with pytest.raises(ServiceError, match="(?i)token"):  # a token continues only the lookup that issued it
        service.page("EventName", "ListModels", start, end, first.next_token)
