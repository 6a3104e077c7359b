"""The verifier in-process: temporary keys (what STS AssumeRole will hand out) need their session
token and stop working when they expire; the clock window is AWS's 15 minutes either way."""

from __future__ import annotations

import datetime as dt

import pytest

from localcloud.auth.keys import AccessKey, KeyTable, new_access_key_id, new_secret
from localcloud.auth.refusal import Refusal
from localcloud.auth.sigv4 import Verifier
from localcloud.core.protocol import Request
from localcloud.core.registry import Identity
from localcloud.core.state import Store
from tests.localcloud.auth.sigv4_helpers import signed


@pytest.fixture
def table(tmp_path) -> KeyTable:
    return KeyTable(Store(tmp_path))


def temporary_key(expires: float) -> AccessKey:
    key_id = new_access_key_id("ASIA")
    identity = Identity(key_id, "arn:aws:sts::000000000000:assumed-role/r/s", "AROAEXAMPLE:s", "000000000000")
    return AccessKey(key_id, new_secret(), identity, session_token="token-" + new_secret(), expires=expires)


def reason(verifier: Verifier, request: Request, now: dt.datetime | None = None) -> str:
    with pytest.raises(Refusal) as refused:
        verifier.verify(request, now)
    return refused.value.reason


def test_a_temporary_key_needs_its_session_token_and_expires(table):
    now = dt.datetime.now(dt.UTC)
    key = temporary_key(expires=(now + dt.timedelta(hours=1)).timestamp())
    table.add(key)
    verifier = Verifier(table)
    assert verifier.verify(signed(key, token=key.session_token)).key.identity.arn.endswith("assumed-role/r/s")
    assert reason(verifier, signed(key)) == "unknown_key"
    assert reason(verifier, signed(key, token="someone else's")) == "unknown_key"
    request = signed(key, token=key.session_token)
    assert reason(verifier, request, now + dt.timedelta(hours=1, seconds=1)) in ("unknown_key", "expired")


def test_the_root_key_is_minted_once_and_kept(table, tmp_path):
    root = table.root()
    assert root.access_key_id.startswith("AKIA") and root.session_token is None
    assert KeyTable(Store(tmp_path)).root() == root
    assert root.secret_access_key not in repr(root)


def test_the_clock_window_is_fifteen_minutes_either_way(table):
    verifier = Verifier(table)
    request = signed(table.root())
    now = dt.datetime.now(dt.UTC)
    assert verifier.verify(request, now + dt.timedelta(minutes=14)).service == "sagemaker"
    assert verifier.verify(request, now - dt.timedelta(minutes=14)).service == "sagemaker"
    assert reason(verifier, request, now + dt.timedelta(minutes=16)) == "expired"
    assert reason(verifier, request, now - dt.timedelta(minutes=16)) == "expired"
