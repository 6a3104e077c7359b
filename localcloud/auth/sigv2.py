"""S3's Signature Version 2, which S3 still accepts and boto3 still uses to presign S3 URLs by default.

botocore's own SigV2 signer recomputes the signature, with the request's date (or the URL's
Expires) where the signer would put the current time.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hmac
from urllib.parse import parse_qs, urlsplit

from botocore.auth import HmacV1Auth
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials

from localcloud.auth.keys import KeyTable
from localcloud.auth.refusal import MAX_SKEW, Refusal, Signed
from localcloud.core.protocol import Request

_V2_HEADERS = ("content-md5", "content-type")


class _SigV2(HmacV1Auth):
    """botocore's S3 SigV2 signer with the request's own date (a presigned URL's Expires)."""

    def __init__(self, credentials: Credentials, date: str) -> None:
        super().__init__(credentials)
        self._date = date

    def _get_date(self) -> str:
        return self._date


def _v2_resource(path: str) -> str:
    """SigV2's canonical resource names a bucket with its trailing slash (`/bucket/`)."""
    return path + "/" if path.count("/") == 1 and len(path) > 1 else path


def verify_header(request: Request, header: str, keys: KeyTable, now: dt.datetime) -> Signed:
    """S3's Signature Version 2 (`Authorization: AWS <key>:<signature>`), which S3 still accepts."""
    access_key_id, _, signature = header[4:].partition(":")
    date_text = request.header("date") or ""
    try:
        when = email.utils.parsedate_to_datetime(request.header("x-amz-date") or date_text)
    except (TypeError, ValueError) as exc:
        raise Refusal("incomplete", "AWS authentication requires a valid Date or x-amz-date header") from exc
    if abs(now - when.astimezone(dt.UTC)) > MAX_SKEW:
        raise Refusal("expired", f"The request was signed at {when:%Y%m%dT%H%M%SZ}.")
    key = keys.find(access_key_id)
    if key is None or key.expired(now.timestamp()) or key.session_token is not None:
        raise Refusal("unknown_key")
    split = urlsplit(
        f"http://{request.header('host') or ''}{request.path}" + (f"?{request.query}" if request.query else "")
    )
    signer = _SigV2(Credentials(key.access_key_id, key.secret_access_key), date_text)
    headers = {k: v for k, v in request.headers.items() if k != "date"}
    expected = signer.get_signature(
        request.method, split, HTTPHeaders.from_dict(headers), auth_path=_v2_resource(request.path)
    )
    if not hmac.compare_digest(expected, signature):
        raise Refusal("signature")
    return Signed(key, "us-east-1", "s3")


def verify_presigned(request: Request, keys: KeyTable, now: dt.datetime) -> Signed:
    """An S3 URL presigned with Signature Version 2, which boto3's generate_presigned_url still makes."""
    query = parse_qs(request.query, keep_blank_values=True)
    try:
        access_key_id, signature = query["AWSAccessKeyId"][0], query["Signature"][0]
        expires = int(query["Expires"][0])
    except (KeyError, ValueError) as exc:
        raise Refusal(
            "incomplete",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ) from exc
    if now.timestamp() > expires:
        raise Refusal("presign_expired", f"Request has expired: it expired at {expires}.")
    key = keys.find(access_key_id)
    if key is None or key.expired(now.timestamp()) or key.session_token is not None:
        raise Refusal("unknown_key")
    kept = "&".join(
        p for p in request.query.split("&") if p.partition("=")[0] not in ("AWSAccessKeyId", "Signature", "Expires")
    )
    split = urlsplit(f"http://{request.header('host') or ''}{request.path}" + (f"?{kept}" if kept else ""))
    signed_headers = {k: v[0] for k, v in query.items() if k.lower().startswith("x-amz-") or k.lower() in _V2_HEADERS}
    signed_headers.update({k: v for k, v in request.headers.items() if k in _V2_HEADERS})
    signer = _SigV2(Credentials(key.access_key_id, key.secret_access_key), query["Expires"][0])
    expected = signer.get_signature(request.method, split, HTTPHeaders.from_dict(signed_headers))
    if not hmac.compare_digest(expected, signature):
        raise Refusal("signature")
    return Signed(key, "us-east-1", "s3")
