"""STS: who a set of credentials belongs to, and temporary credentials for a role its trust policy allows."""

from __future__ import annotations

import secrets
import time
from typing import Any

from localcloud.auth import policy
from localcloud.auth.keys import AccessKey, KeyTable, client_env, new_access_key_id, new_secret
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call, Identity, Service
from localcloud.iam.provider import IAM


def _denied(caller: str, role_arn: str) -> AwsError:
    return AwsError(
        "AccessDenied", f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", 403
    )


class STS(Service):
    model_name = "sts"
    validation_code = "ValidationError"  # the query-protocol services' word for bad input
    arn_templates = {"RoleArn": "{value}"}

    def __init__(self, iam: IAM, keys: KeyTable) -> None:
        self.iam, self.keys = iam, keys

    def op_GetCallerIdentity(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        identity = call.identity
        return {"UserId": identity.user_id, "Account": identity.account, "Arn": identity.arn}

    def op_AssumeRole(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        caller = call.identity
        role_name = caller.role_name
        principal = caller.arn if role_name is None else self.iam.role(role_name)["Arn"]
        key = self.assume(
            p["RoleArn"], p["RoleSessionName"], ("AWS", principal), caller.arn, p.get("DurationSeconds", 3600)
        )
        return {
            "Credentials": {
                "AccessKeyId": key.access_key_id,
                "SecretAccessKey": key.secret_access_key,
                "SessionToken": key.session_token,
                "Expiration": key.expires,
            },
            "AssumedRoleUser": {"AssumedRoleId": key.identity.user_id, "Arn": key.identity.arn},
        }

    def service_env(self, role_arn: str, session_name: str, *, service: str, endpoint_url: str) -> dict[str, str]:
        """What a training job's or endpoint instance's SDK signs with: its execution role, assumed as the
        service (`sagemaker.amazonaws.com`). Empty when the role cannot be assumed: AWS refuses such a role
        when the job or model is created; localcloud runs it without credentials and says so in its log."""
        try:
            key = self.assume(role_arn, session_name[:64], ("Service", service), service, self._max_duration(role_arn))
        except AwsError:
            return {}
        return client_env(endpoint_url, key)

    def _max_duration(self, role_arn: str) -> int:
        try:
            return int(self.iam.role_by_arn(role_arn)["MaxSessionDuration"])
        except AwsError:
            return 3600

    def trusts(self, role_arn: str, principal: tuple[str, str]) -> bool:
        """Whether the role exists and its trust policy lets `principal` assume it (no key is minted)."""
        try:
            role = self.iam.role_by_arn(role_arn)
        except AwsError:
            return False
        account = role["Arn"].split(":")[4]
        return policy.trust_allows(self.iam.trust_policy(role), *principal, account, "sts:AssumeRole").allowed

    def assume(
        self, role_arn: str, session_name: str, principal: tuple[str, str], caller: str, duration: int = 3600
    ) -> AccessKey:
        """Temporary credentials for `role_arn` if its trust policy lets `principal` (kind, name) in.

        localcloud's own runners call this too, as the service principal AWS's services assume roles as
        (`("Service", "lambda.amazonaws.com")`).
        """
        try:
            role = self.iam.role_by_arn(role_arn)
        except AwsError as error:
            raise _denied(caller, role_arn) from error
        if duration > role["MaxSessionDuration"]:
            raise AwsError(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                400,
            )
        account = role["Arn"].split(":")[4]
        decision = policy.trust_allows(self.iam.trust_policy(role), *principal, account, "sts:AssumeRole")
        if not decision.allowed:
            raise _denied(caller, role_arn)
        key_id = new_access_key_id("ASIA")
        identity = Identity(
            key_id,
            f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/{session_name}",
            f"{role['RoleId']}:{session_name}",
            account,
        )
        key = AccessKey(
            key_id, new_secret(), identity, session_token=secrets.token_urlsafe(96), expires=time.time() + duration
        )
        self.keys.add(key)
        return key
