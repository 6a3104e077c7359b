"""Lambda input rules checked before any call (AWS's limits and reasons), the REPORT line, test events, and the
price of provisioned concurrency. No cloud: these are pure functions."""

import base64
import json

import pytest

from services.core.errors import ServiceError
from services.core.pricing import lambda_provisioned_hourly
from services.functions.concurrency_settings import (
    AccountConcurrency,
    FunctionConcurrency,
    ProvisionedConfig,
    check_provisioned,
    check_reserved,
    minimum_unreserved,
)
from services.functions.lambda_functions import check_alias_name, check_weight
from services.functions.test_events import check_event, image_event, parse_report, url_event

ACCOUNT = AccountConcurrency(limit=1000, unreserved=900)  # another function holds 100


def function(reserved=None, **provisioned) -> FunctionConcurrency:
    configs = [ProvisionedConfig(q, n, n, n, "READY", None, 0.0) for q, n in provisioned.items()]
    return FunctionConcurrency("f", reserved, configs, 1024)


def test_minimum_unreserved_is_awss_100_and_a_tenth_of_small_limits():
    assert (minimum_unreserved(1000), minimum_unreserved(5000), minimum_unreserved(10), minimum_unreserved(3)) == (
        100,
        100,
        1,
        1,
    )


def test_reserved_above_what_the_account_allows():
    assert check_reserved(ACCOUNT, function(), 800) == 800
    with pytest.raises(ServiceError) as error:
        check_reserved(ACCOUNT, function(), 801)
    assert "at most 800" in error.value.message
    assert "below its minimum value of [100]" in error.value.message
    # What the function holds already comes back to the pool when its setting is replaced.
    assert check_reserved(AccountConcurrency(1000, 100), function(reserved=800), 800) == 800
    with pytest.raises(ServiceError, match="0 or more"):
        check_reserved(ACCOUNT, function(), -1)


def test_reserved_below_the_provisioned_total():
    with pytest.raises(ServiceError) as error:
        check_reserved(ACCOUNT, function(5, live=3, **{"2": 2}), 4)
    assert "provisioned concurrency (5 in all)" in error.value.message


def test_provisioned_on_latest_and_above_reserved():
    with pytest.raises(ServiceError) as error:
        check_provisioned(ACCOUNT, function(), "$LATEST", 1)
    assert "Provisioned Concurrency Configs cannot be applied to unpublished function versions." in error.value.message
    with pytest.raises(ServiceError) as error:
        check_provisioned(ACCOUNT, function(4, live=3), "2", 2)
    assert "should not be greater than the reservedConcurrentExecution" in error.value.message
    assert check_provisioned(ACCOUNT, function(4, live=3), "live", 4) == 4  # replacing its own 3
    with pytest.raises(ServiceError, match="at least 1"):
        check_provisioned(ACCOUNT, function(4), "live", 0)
    with pytest.raises(ServiceError, match="at most 800"):
        check_provisioned(ACCOUNT, function(), "live", 801)


@pytest.mark.parametrize("name", ["1", "42", "007"])
def test_alias_named_with_digits_only(name):
    with pytest.raises(ServiceError) as error:
        check_alias_name(name)
    assert "reserves for version numbers" in error.value.message


def test_alias_names_aws_accepts_and_refuses():
    assert check_alias_name(" live ") == "live" and check_alias_name("v2_canary-1") == "v2_canary-1"
    for bad in ("", "has space", "x" * 129, "a:b"):
        with pytest.raises(ServiceError):
            check_alias_name(bad)


@pytest.mark.parametrize("weight", [-0.01, 1.01, 2.0])
def test_routing_weights_outside_0_1(weight):
    with pytest.raises(ServiceError, match="outside 0-1"):
        check_weight(weight)
    assert check_weight(0.0) == 0.0 and check_weight(1.0) == 1.0


def test_report_line_cold_and_warm():
    tail = (
        "START RequestId: r1 Version: 3\nhello\nEND RequestId: r1\n"
        "REPORT RequestId: r1\tDuration: 12.34 ms\tBilled Duration: 158 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 61 MB\tInit Duration: 145.20 ms\t\n"
    )
    report = parse_report(tail)
    assert (report.request_id, report.duration_ms, report.billed_ms, report.memory_mb) == ("r1", 12.34, 158, 512)
    assert (report.max_memory_used_mb, report.init_ms) == (61, 145.2)
    warm = parse_report(tail.replace("\tInit Duration: 145.20 ms", ""))
    assert warm.init_ms is None
    assert parse_report("no report here") is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/dog.jpg",
        "http://localhost:4566/x",
        "http://10.0.0.7/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "file:///etc/passwd",
    ],
)
def test_url_event_refuses_private_and_loopback_addresses(url):
    with pytest.raises(ServiceError):
        url_event(url)
    with pytest.raises(ServiceError):
        check_event(json.dumps({"url": url}))


def test_events():
    assert json.loads(url_event("https://example.com/dog.jpg")) == {"url": "https://example.com/dog.jpg"}
    assert base64.b64decode(json.loads(image_event(b"\xff\xd8jpeg"))["image"]) == b"\xff\xd8jpeg"
    with pytest.raises(ServiceError, match="not JSON"):
        check_event("{url: x}")
    with pytest.raises(ServiceError, match="at most 6 MB"):
        check_event(json.dumps({"image": "A" * (6 * 1024 * 1024)}))
    assert check_event('{"a": 1}') == b'{"a": 1}'


def test_provisioned_price_per_hour():
    # 2 environments of 1,024 MB: 2 GB × 3,600 s × $0.0000041667 per GB-second.
    assert lambda_provisioned_hourly(1024, 2) == pytest.approx(2 * 3600 * 0.0000041667)
    assert lambda_provisioned_hourly(128, 0) == 0.0
    assert lambda_provisioned_hourly(2048, 1, "arm64") == pytest.approx(2 * 3600 * 0.0000033334)  # Graviton
