"""SigV4's signing key is derived once per key, date, region and service and kept: the kept key signs exactly as
botocore's signer derives it afresh, and verifying many requests of one scope derives it once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from localcloud.auth.keys import KeyTable
from localcloud.auth.sigv4 import Verifier, _signature, signing_key
from localcloud.core.state import Store
from tests.localcloud.auth.sigv4_helpers import signed

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@given(
    secret=st.text(min_size=1, max_size=60).filter(lambda s: "\x00" not in s),
    day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
    region=names,
    service=names,
    string_to_sign=st.text(max_size=200),
)
def test_the_kept_key_signs_as_botocore_derives_it(secret, day, region, service, string_to_sign):
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", secret), service, region)
    request = AWSRequest(method="GET", url="http://127.0.0.1/")
    request.context["timestamp"] = day.strftime("%Y%m%d") + "T000000Z"
    expected = signer.signature(string_to_sign, request)
    assert _signature(signer, string_to_sign, request) == expected
    assert _signature(signer, string_to_sign, request) == expected  # from the kept key this time


def test_one_scope_derives_its_key_once(tmp_path: Path):
    keys = KeyTable(Store(tmp_path))
    key = keys.root()
    verifier = Verifier(keys)
    requests = [signed(key, body=b'{"n": %d}' % i) for i in range(5)]
    signing_key.cache_clear()
    for request in requests:
        verifier.verify(request)
    info = signing_key.cache_info()
    assert (info.misses, info.hits) == (1, 4)
