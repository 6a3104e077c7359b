"""Verify AWS Signature Version 4 the way AWS does, with botocore recomputing the signature.

The canonical request is rebuilt from the request as received: the raw path, the raw query
string, only the headers the client signed (Host with its port), and the payload hash. S3
presigned URLs (the signature in the query string) and `aws-chunked` uploads signed chunk by
chunk are verified too; S3's older Signature Version 2 is sigv2.py's. Refusals name a reason;
the codec of the request's protocol turns it into the code and message AWS gives there.

The signing key (four HMACs from the secret down the credential scope) is derived once per key, date,
region and service and kept, as AWS's front ends keep it; only the last HMAC, over the request's own
string to sign, is computed per request.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import parse_qs

import botocore.session
from botocore.auth import (
    EMPTY_SHA256_HASH,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud.auth import sigv2
from localcloud.auth.keys import AccessKey, KeyTable
from localcloud.auth.refusal import MAX_SKEW, Refusal, Signed
from localcloud.core import chunked
from localcloud.core.protocol import Request

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")


@dataclass(frozen=True)
class _Parts:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    amz_date: str
    presigned: bool
    expires: int | None = None


@cache
def _region_patterns() -> list[re.Pattern[str]]:
    """Region names AWS's partitions accept (botocore's endpoint data)."""
    data = botocore.session.get_session().get_data("endpoints")
    return [re.compile(p["regionRegex"]) for p in data["partitions"]]


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key for one secret and credential scope (`date` is YYYYMMDD)."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _signature(signer: SigV4Auth, string_to_sign: str, aws_request: AWSRequest) -> str:
    """What `signer.signature` computes, from the kept signing key."""
    date, region, service, _ = signer.credential_scope(aws_request).split("/")
    key = signing_key(signer.credentials.secret_key, date, region, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def valid_region(name: str) -> bool:
    return any(p.match(name) for p in _region_patterns())


def scope_of(request: Request) -> tuple[str, str] | None:
    """(region, service) from a request's credential scope, without verifying anything."""
    match = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/,]+)/aws4_request", request.header("authorization") or "")
    if match is None and "X-Amz-Credential=" in request.query:
        credential = parse_qs(request.query).get("X-Amz-Credential", [""])[0]
        match = re.match(r"[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request", credential)
    return (match.group(1), match.group(2)) if match else None


def _parse_header(request: Request, header: str) -> _Parts:
    algorithm, _, rest = header.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise Refusal("incomplete", f"Unsupported signing algorithm {algorithm[:32]!r}: only AWS4-HMAC-SHA256.")
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise Refusal("incomplete", " ".join(f"Authorization header requires '{f}' parameter." for f in missing))
    amz_date = request.header("x-amz-date")
    if amz_date is None and request.header("date"):
        amz_date = _from_http_date(request.header("date") or "")
    if not amz_date:
        raise Refusal(
            "incomplete", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    return _parts(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date, presigned=False)


def _parse_query(query: dict[str, list[str]]) -> _Parts:
    def one(name: str) -> str:
        if name not in query:
            raise Refusal("incomplete", f"Query-string authentication requires the {name} parameter.")
        return query[name][0]

    if one("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise Refusal("incomplete", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".')
    try:
        expires = int(one("X-Amz-Expires"))
    except ValueError as exc:
        raise Refusal("incomplete", "X-Amz-Expires should be a number.") from exc
    if not 1 <= expires <= 604800:
        raise Refusal("incomplete", "X-Amz-Expires must be between 1 and 604800 seconds.")
    parts = _parts(
        one("X-Amz-Credential"), one("X-Amz-SignedHeaders"), one("X-Amz-Signature"), one("X-Amz-Date"), presigned=True
    )
    return _Parts(**{**parts.__dict__, "expires": expires})


def _parts(credential: str, signed_headers: str, signature: str, amz_date: str, *, presigned: bool) -> _Parts:
    pieces = credential.split("/")
    if len(pieces) != 5 or pieces[4] != "aws4_request" or not re.fullmatch(r"\d{8}", pieces[1]):
        raise Refusal(
            "incomplete",
            f"Credential should be <key>/<date>/<region>/<service>/aws4_request, not {'/'.join(pieces[1:])!r}.",
        )
    return _Parts(pieces[0], pieces[1], pieces[2], pieces[3], signed_headers.split(";"), signature, amz_date, presigned)


def _from_http_date(text: str) -> str | None:
    try:
        return email.utils.parsedate_to_datetime(text).astimezone(dt.UTC).strftime(_AMZ_DATE)
    except (TypeError, ValueError):
        return None


class Verifier:
    """Checks each request's signature against the key table."""

    def __init__(self, keys: KeyTable) -> None:
        self.keys = keys

    def verify(self, request: Request, now: dt.datetime | None = None) -> Signed:
        now = now or dt.datetime.now(dt.UTC)
        header = request.header("authorization")
        query = parse_qs(request.query, keep_blank_values=True) if "X-Amz-" in request.query else {}
        if header and header.startswith("AWS ") and scope_of(request) is None:
            return sigv2.verify_header(request, header, self.keys, now)
        if header:
            parts = _parse_header(request, header)
        elif "X-Amz-Signature" in query or "X-Amz-Credential" in query:
            parts = _parse_query(query)
        elif "AWSAccessKeyId=" in request.query and "Signature=" in request.query:
            return sigv2.verify_presigned(request, self.keys, now)
        else:
            raise Refusal("missing")
        self._check_time(parts, now)
        if not valid_region(parts.region):
            raise Refusal("scope", f"Credential should be scoped to a valid region, not '{parts.region}'.")
        if "host" not in parts.signed_headers:
            raise Refusal("incomplete", "'Host' must be a signed header.")
        key = self.keys.find(parts.access_key_id)
        if key is None or key.expired(now.timestamp()):
            raise Refusal("unknown_key")
        token = request.header("x-amz-security-token") or (query.get("X-Amz-Security-Token") or [None])[0]
        if key.session_token is not None and not hmac.compare_digest(token or "", key.session_token):
            raise Refusal("unknown_key")
        signer, aws_request = self._recompute(request, parts, key, query)
        canonical = signer.canonical_request(aws_request)
        string_to_sign = signer.string_to_sign(aws_request, canonical)
        expected = _signature(signer, string_to_sign, aws_request)
        if not hmac.compare_digest(expected, parts.signature):
            raise Refusal("signature")
        self._check_payload(request, parts, signer, aws_request, expected)
        return Signed(key, parts.region, parts.service)

    @staticmethod
    def _check_time(parts: _Parts, now: dt.datetime) -> None:
        when = _parse_amz_date(parts.amz_date)
        if parts.date != parts.amz_date[:8]:
            raise Refusal(
                "scope",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{parts.date}' != '{parts.amz_date[:8]}', from '{parts.amz_date}'.",
            )
        stamp = parts.amz_date
        if parts.presigned and parts.expires is not None and now > when + dt.timedelta(seconds=parts.expires):
            current = now.strftime(_AMZ_DATE)
            raise Refusal("presign_expired", f"Request has expired: {stamp} + {parts.expires} s is before {current}.")
        if now - when > MAX_SKEW and not parts.presigned:
            current, earliest = now.strftime(_AMZ_DATE), (now - MAX_SKEW).strftime(_AMZ_DATE)
            raise Refusal("expired", f"Signature expired: {stamp} is now earlier than {earliest} ({current} - 15 min.)")
        if when - now > MAX_SKEW:
            current, latest = now.strftime(_AMZ_DATE), (now + MAX_SKEW).strftime(_AMZ_DATE)
            raise Refusal(
                "expired", f"Signature not yet current: {stamp} is still later than {latest} ({current} + 15 min.)"
            )

    @staticmethod
    def _recompute(
        request: Request, parts: _Parts, key: AccessKey, query: dict[str, list[str]]
    ) -> tuple[SigV4Auth, AWSRequest]:
        raw_query = request.query
        if parts.presigned:  # the canonical query string is everything but the signature
            raw_query = "&".join(p for p in request.query.split("&") if not p.startswith("X-Amz-Signature="))
        host = request.header("host") or ""
        url = f"http://{host}{request.path}" + (f"?{raw_query}" if raw_query else "")
        headers = {name: request.headers.get(name, "") for name in parts.signed_headers}
        aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
        aws_request.context["timestamp"] = parts.amz_date
        credentials = Credentials(key.access_key_id, key.secret_access_key, key.session_token)
        if parts.presigned:
            signer_class: type[SigV4Auth] = S3SigV4QueryAuth if parts.service == "s3" else SigV4QueryAuth
        else:
            signer_class = S3SigV4Auth if parts.service == "s3" else SigV4Auth
        return signer_class(credentials, parts.service, parts.region), aws_request

    @staticmethod
    def _check_payload(
        request: Request, parts: _Parts, signer: SigV4Auth, aws_request: AWSRequest, seed_signature: str
    ) -> None:
        """The body must be what the signature vouches for (only S3 sends the hash as a header)."""
        declared = request.header("x-amz-content-sha256")
        if declared is None or parts.presigned or declared in _UNSIGNED:
            return
        if declared == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD":
            _check_chunks(request, signer, aws_request, seed_signature)
        elif declared.startswith("STREAMING-"):
            raise Refusal("bad_request", f"localcloud does not support x-amz-content-sha256 {declared[:64]!r}.")
        elif not hmac.compare_digest(hashlib.sha256(request.body).hexdigest(), declared):
            raise Refusal("payload_hash")


def _check_chunks(request: Request, signer: SigV4Auth, aws_request: AWSRequest, seed_signature: str) -> None:
    """Each chunk signs its data and the signature before it, starting from the header's."""
    scope = signer.credential_scope(aws_request)
    previous = seed_signature
    for chunk in chunked.split_chunks(request.body):
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                aws_request.context["timestamp"],
                scope,
                previous,
                EMPTY_SHA256_HASH,
                hashlib.sha256(chunk.data).hexdigest(),
            ]
        )
        expected = _signature(signer, string_to_sign, aws_request)
        if chunk.signature is None or not hmac.compare_digest(expected, chunk.signature):
            raise Refusal("signature")
        previous = expected


_AMZ_DATE_PATTERN = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


def _parse_amz_date(stamp: str) -> dt.datetime:
    """X-Amz-Date (`20261129T083000Z`) as a UTC time; read by hand because strptime costs a request ~20 µs."""
    match = _AMZ_DATE_PATTERN.fullmatch(stamp)
    try:
        if match is None:
            raise ValueError(stamp)
        return dt.datetime(*map(int, match.groups()), tzinfo=dt.UTC)
    except ValueError as exc:
        raise Refusal("incomplete", f"Date must be in ISO-8601 'basic format'. Got '{stamp}'.") from exc
