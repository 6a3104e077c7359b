"""A model's artifact, read as its execution role as SageMaker does when an endpoint starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.as_role import RoleObjects, RoleSession
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.protocol import AwsError


def model_artifact(objects: ObjectStore, roles: ExecutionRoles, model: dict[str, Any], endpoint: str) -> Path:
    """A model's `ModelDataUrl`, read as its execution role as SageMaker does when an endpoint starts; a
    RuntimeError with AWS's reason when it cannot be."""
    url = model["PrimaryContainer"].get("ModelDataUrl")
    if not url or not url.startswith("s3://"):
        raise RuntimeError("The model has no ModelDataUrl in S3 (s3://bucket/key/model.tar.gz).")
    bucket, _, key = url[len("s3://") :].partition("/")
    role = model.get("ExecutionRoleArn")
    try:
        if not role:
            raise AwsError("AccessDenied", "The model has no ExecutionRoleArn to download it with.", 403)
        session = RoleSession(roles, role, endpoint, model["ModelArn"].split(":")[3])
        return RoleObjects(objects, session).object_path(bucket, key)
    except AwsError as exc:
        raise RuntimeError(
            f'Failed to download model data for container "container_1" from URL: "{url}". Please ensure that '
            "there is an object located at the URL and that the role passed to CreateModel has permissions to "
            f"download the object. ({exc.code}: {exc.message})"
        ) from exc
