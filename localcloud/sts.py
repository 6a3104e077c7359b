"""STS: who a set of credentials belongs to (AssumeRole arrives with IAM)."""

from __future__ import annotations

from typing import Any

from localcloud.registry import Call, Service


class STS(Service):
    model_name = "sts"
    validation_code = "ValidationError"  # the query-protocol services' word for bad input

    def op_GetCallerIdentity(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        identity = call.identity
        return {"UserId": identity.user_id, "Account": identity.account, "Arn": identity.arn}
