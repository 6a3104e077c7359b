"""Any input gets a 4xx, never a 5xx: every operation localcloud serves, sent model-shaped params with one
constraint broken (tests/localcloud/hostile.py) through a real boto3 client with its own validation off, is
answered with an AWS error of the 4xx kind (or, when nothing in its input can be broken, a success), and the
server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from hypothesis import HealthCheck, Phase, given, reject, settings

from localcloud.core.process import LocalCloudProcess
from tests.clouds import running_localcloud
from tests.localcloud.hostile import Served, hostile_request, served_operations

# The client sends what it is given, once, and waits long enough for a busy 2-core machine.
RAW = Config(parameter_validation=False, retries={"total_max_attempts": 1}, read_timeout=30, connect_timeout=5)
EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    with running_localcloud(tmp_path_factory.mktemp("hostile-localcloud"), ["--no-defaults"]) as started:
        yield started


@pytest.mark.parametrize("served", served_operations(), ids=str)
def test_a_hostile_request_gets_a_4xx(cloud: LocalCloudProcess, served: Served) -> None:
    call = getattr(cloud.client(served.service, config=RAW), xform_name(served.operation.name))

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_request(served))
    def answered_with_a_4xx(params: dict) -> None:
        try:
            call(**params)
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            assert 400 <= status < 500, f"{served} answered {status}: {error.response.get('Error')}"
            assert error.response["Error"].get("Code"), f"{served} answered {status} without an error code"
        except (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError) as error:
            raise AssertionError(f"{served} dropped the connection or never answered: {error}") from error
        except (BotoCoreError, TypeError, ValueError, AttributeError, KeyError):
            reject()  # the client could not serialise these params: nothing reached the server

    answered_with_a_4xx()
    assert cloud.health().get("status") == "ok"
