"""The base of every service that talks to AWS: its settings, and its boto3 clients built in one place.

A service is constructed as aws-lambda-powertools' utilities are (`settings=None, *, boto3_session=None`)
and may be handed ready-made clients (moto or Stubber ones in tests); any other client is built with
`make_client` on first use, so a page that only lists endpoints never pays for a Lambda client.
"""

from collections.abc import Mapping
from typing import Any

import boto3

from services.core.clients import CloudSettings, make_client


class AwsService:
    """Holds the settings (the environment's when none are given), an optional caller-supplied boto3
    session, and the clients: those given in `clients`, by service name, and those built on demand."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        clients: Mapping[str, Any] | None = None,
    ) -> None:
        self._settings = settings or CloudSettings.from_env()
        self._session = boto3_session
        self._clients = dict(clients or {})

    def _client(self, service_name: str) -> Any:
        """The client given for `service_name`, or the one `make_client` builds (once) for these settings."""
        if self._clients.get(service_name) is None:
            self._clients[service_name] = make_client(service_name, self._settings, boto3_session=self._session)
        return self._clients[service_name]
