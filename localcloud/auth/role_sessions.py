"""What the services that run code as an execution role (Lambda functions, SageMaker training jobs and endpoint
instances) ask of STS (localcloud/iam/sts.py), which cloud.py hands them: here, so that they reach STS only
through these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from localcloud.auth.keys import AccessKey

RoleEnv = Callable[[str, str], dict[str, str]]
"""Environment variables with a role's credentials, for (role ARN, session name), as the service principal
assumes it; empty when the role cannot be assumed."""


class RoleSessions(Protocol):
    """Temporary credentials for a role whose trust policy lets a principal (kind, name) in."""

    def trusts(self, role_arn: str, principal: tuple[str, str]) -> bool:
        """Whether the role exists and its trust policy lets `principal` assume it (no key is minted)."""

    def assume(
        self, role_arn: str, session_name: str, principal: tuple[str, str], caller: str, duration: int = 3600
    ) -> AccessKey:
        """The role's temporary key; AwsError when the role may not be assumed."""
