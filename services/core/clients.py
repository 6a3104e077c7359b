"""The one place boto3 clients are built, so every call shares the same retry, timeout and endpoint rules.

`CloudSettings` is all that differs between AWS and localcloud: an endpoint URL (None means AWS's
own), a region and an optional profile; for a dashboard viewer also the role its session assumes.
"""

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from services.core.access import refuse_changes_for_viewers
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.viewer import viewer_session

DEFAULT_REGION = "us-east-1"

DEFAULT_ATTEMPTS = 4  # the call and up to three retries of what botocore deems retryable
_CONFIG = dict(
    connect_timeout=5,
    # Long enough for a cold endpoint instance or Lambda environment to answer an inference.
    read_timeout=60,
)
_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class CloudSettings:
    """Where to send requests: `endpoint_url` None means AWS's public endpoints.

    `viewer_role` (a role name or ARN) marks a viewer's settings: clients sign with that role's
    temporary keys and refuse changing operations before sending them (services/core/access.py).
    """

    endpoint_url: str | None
    region: str
    profile: str | None
    viewer_role: str | None = None

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ServiceError(
                    f"Endpoint URL '{self.endpoint_url}' is not an http(s) URL with a host, "
                    "e.g. http://127.0.0.1:4566. Leave it empty to talk to AWS."
                )
        if not _REGION.fullmatch(self.region) or len(self.region) > 63:
            raise ServiceError(f"Region '{self.region}' is not a region name like us-east-1.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "CloudSettings":
        """Read the variables boto3 itself uses, so `AWS_PROFILE=x streamlit run ...` just works."""
        env = os.environ if environ is None else environ
        return cls(
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            profile=env.get("AWS_PROFILE") or None,
        )


def make_session(settings: CloudSettings) -> boto3.Session:
    """A boto3 session for the settings' profile and region (credentials come from the usual chain);
    for a viewer's settings, one that signs as the viewer role (kept: its keys refresh themselves)."""
    if settings.viewer_role is not None:
        with _lock:
            if settings not in _viewer_sessions:
                base = replace(settings, viewer_role=None)
                _viewer_sessions[settings] = viewer_session(
                    settings.viewer_role,
                    settings.region,
                    lambda name: _build(name, base, _base_session(base), DEFAULT_ATTEMPTS),
                )
            return _viewer_sessions[settings]
    return _base_session(settings)


def _base_session(settings: CloudSettings) -> boto3.Session:
    try:
        return boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except BOTO_ERRORS as exc:
        raise from_client_error(exc, what="open an AWS session") from exc


_clients: dict[tuple[str, CloudSettings], Any] = {}
_viewer_sessions: dict[CloudSettings, boto3.Session] = {}
_lock = threading.RLock()


def make_client(
    service_name: str,
    settings: CloudSettings | None = None,
    *,
    boto3_session: boto3.Session | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Any:
    """A client for `service_name`; cached per (service, settings, attempts) because building one takes ~50 ms.

    A caller-supplied `boto3_session` is used as is and not cached (tests, scripts with their own
    credentials). `attempts=1` turns botocore's retries off, for callers that count every refusal.
    """
    settings = settings or CloudSettings.from_env()
    if boto3_session is not None:
        return _build(service_name, settings, boto3_session, attempts)
    key = (service_name, settings, attempts)
    with _lock:  # boto3 sessions are not thread-safe; Streamlit runs sessions in threads.
        if key not in _clients:
            _clients[key] = _build(service_name, settings, make_session(settings), attempts)
        return _clients[key]


def _build(service_name: str, settings: CloudSettings, session: boto3.Session, attempts: int) -> Any:
    # The settings are the single source of truth for the endpoint: an empty endpoint URL means AWS
    # even when AWS_ENDPOINT_URL is still set in the environment.
    config = Config(
        region_name=settings.region,
        ignore_configured_endpoint_urls=True,
        retries={"mode": "standard", "total_max_attempts": attempts},
        **_CONFIG,
    )
    try:
        client = session.client(service_name, endpoint_url=settings.endpoint_url, config=config)
    except BOTO_ERRORS as exc:
        raise from_client_error(exc, what=f"create a {service_name} client") from exc
    if settings.viewer_role is not None:
        client.meta.events.register("before-call", refuse_changes_for_viewers)
    return client
