"""Which credentials the dashboard signs with, and whose they are, without ever showing a secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from services.core.clients import CloudSettings, make_client, make_session
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

# botocore's names for where credentials came from, in words an operator knows.
_SOURCES = {
    "env": "environment variables",
    "shared-credentials-file": "shared credentials file",
    "config-file": "AWS config file",
    "assume-role": "an assumed role",
    "sso": "AWS SSO",
    "container-role": "the container's role",
    "iam-role": "the instance's role",
    "explicit": "given explicitly",
}


@dataclass(frozen=True)
class Credentials:
    """The signing key's public half, masked, and where it came from (None: no credentials)."""

    key_hint: str | None
    source: str | None
    profile: str | None

    @property
    def description(self) -> str:
        if self.key_hint is None:
            return "No AWS credentials found."
        origin = f"profile {self.profile}" if self.profile else self.source or "unknown source"
        return f"Key {self.key_hint} ({origin})"


def mask_key_id(access_key_id: str) -> str:
    """`AKIA…WXYZ`: enough to tell keys apart, as the IAM console shows them."""
    return f"{access_key_id[:4]}…{access_key_id[-4:]}" if len(access_key_id) > 8 else "…"


def signing_credentials(settings: CloudSettings, *, boto3_session: boto3.Session | None = None) -> Credentials:
    """Resolve the credentials chain locally (no network call): cheap enough for every rerun."""
    try:
        session = boto3_session or make_session(settings)
        credentials = session.get_credentials()
    except (ServiceError, *BOTO_ERRORS):
        return Credentials(None, None, settings.profile)
    if credentials is None:
        return Credentials(None, None, settings.profile)
    source = _SOURCES.get(getattr(credentials, "method", ""), getattr(credentials, "method", None))
    return Credentials(mask_key_id(credentials.access_key), source, settings.profile)


def caller_arn(settings: CloudSettings, *, boto3_session: boto3.Session | None = None, sts_client: Any = None) -> str:
    """Whose key it is, as STS GetCallerIdentity answers."""
    sts = sts_client or make_client("sts", settings, boto3_session=boto3_session)
    try:
        return sts.get_caller_identity()["Arn"]
    except BOTO_ERRORS as exc:
        raise from_client_error(exc, what="read the caller's identity") from exc
