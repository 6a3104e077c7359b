"""The viewer identity: a role whose policy can only read and invoke, assumed for viewers' sessions.

Give DASHBOARD_VIEWER_ROLE an ARN (on AWS, a role you made) and it is assumed as it is. Give it a
name (default `dog-breed-dashboard-viewer`) and the role is created through IAM on first use, with
a trust policy that lets this account assume it and `VIEWER_POLICY` inline: the same code path on
localcloud and on AWS, so no dashboard bug can let a viewer change anything in the cloud.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import boto3
from botocore.credentials import RefreshableCredentials
from botocore.session import get_session

from services.core.errors import BOTO_ERRORS, from_client_error

DEFAULT_VIEWER_ROLE = "dog-breed-dashboard-viewer"
VIEWER_POLICY_NAME = "read-and-invoke"
SESSION_NAME = "dashboard-viewer"

VIEWER_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ClassifyPhotos",
            "Effect": "Allow",
            "Action": ["sagemaker:InvokeEndpoint", "lambda:InvokeFunction"],
            "Resource": "*",
        },
        {
            "Sid": "ReadWhatIsDeployed",
            "Effect": "Allow",
            "Action": [
                "sagemaker:Describe*",
                "sagemaker:List*",
                "lambda:Get*",
                "lambda:List*",
                "ec2:Describe*",
                "logs:Describe*",
                "logs:Get*",
                "logs:FilterLogEvents",
                "cloudwatch:Get*",
                "cloudwatch:List*",
            ],
            "Resource": "*",
        },
    ],
}


def configured_viewer_role() -> str:
    """The role viewers' sessions assume: DASHBOARD_VIEWER_ROLE (a name or an ARN) or the default name."""
    return os.environ.get("DASHBOARD_VIEWER_ROLE") or DEFAULT_VIEWER_ROLE


def _account_trust(account: str) -> str:
    principal = {"AWS": f"arn:aws:iam::{account}:root"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def ensure_viewer_role(role: str, iam: Any, sts: Any) -> str:
    """The ARN to assume: `role` itself if it is an ARN, else the named role (created when missing)."""
    if role.startswith("arn:"):
        return role
    try:
        try:
            return iam.get_role(RoleName=role)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            pass
        account = sts.get_caller_identity()["Account"]
        arn = iam.create_role(
            RoleName=role,
            AssumeRolePolicyDocument=_account_trust(account),
            Description="Dashboard viewers: classify photos and read, nothing else",
        )["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName=VIEWER_POLICY_NAME, PolicyDocument=json.dumps(VIEWER_POLICY))
        return arn
    except BOTO_ERRORS as exc:
        raise from_client_error(exc, what=f"prepare the viewer role '{role}'") from exc


def assumed_session(role_arn: str, region: str, sts: Any) -> boto3.Session:
    """A session signing with `role_arn`'s temporary keys, assumed again before they expire."""

    def fetch() -> dict[str, str]:
        try:
            credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"assume the viewer role {role_arn}") from exc
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    botocore_session = get_session()
    # botocore has no public setter for refreshable credentials; this is how its own providers attach them.
    botocore_session._credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "assume-role")
    return boto3.Session(botocore_session=botocore_session, region_name=region)


def viewer_session(role: str, region: str, build: Callable[[str], Any]) -> boto3.Session:
    """The viewer's session, from `build(service)` clients that sign with the dashboard's own credentials."""
    sts = build("sts")
    return assumed_session(ensure_viewer_role(role, build("iam"), sts), region, sts)
