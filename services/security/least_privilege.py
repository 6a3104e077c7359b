"""Least-privilege policies for the system's two roles, generated from what actually runs as them.

The function's role: sagemaker:InvokeEndpoint on exactly the endpoints its functions call (their
ENDPOINT_NAME), and writing to their own log groups. The SageMaker execution role: reading its
models' artifacts and its training jobs' inputs, writing their outputs, its log groups, and pulling
its container images. A plan is applied as one inline policy in, every other policy out, and then
verified twice: by IAM's simulator (what it needs allowed, what is dangerous denied) and by a real
classification through the function or the endpoint.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError
from services.security.roles import RoleDetail, RoleService, iam_error
from services.serving.prediction import Prediction, PredictionService, Via

POLICY_NAME = "least-privilege"
_OTHER = "not-used-by-this-role"  # a name no policy of ours names: anything on it must be denied


@dataclass(frozen=True)
class Check:
    """One simulated request and whether IAM decided as the plan expects."""

    action: str
    resource: str
    expect_allowed: bool
    decision: str

    @property
    def ok(self) -> bool:
        return (self.decision == "allowed") == self.expect_allowed


@dataclass(frozen=True)
class Plan:
    role: RoleDetail
    document: dict[str, Any]
    needed: tuple[tuple[str, str], ...]
    dangerous: tuple[tuple[str, str], ...]
    real_check: tuple[Via, str] | None  # classify a photo through (lambda, function) or (endpoint, name)

    @property
    def diff(self) -> str:
        """Today's documents against the plan's one inline policy, as a unified diff."""
        today = "".join(_render(f"{p.kind} {p.name}", p.document) for p in self.role.policies)
        after = _render(f"inline {POLICY_NAME}", self.document)
        lines = difflib.unified_diff(
            today.splitlines(keepends=True), after.splitlines(keepends=True), "today", "least privilege"
        )
        return "".join(lines)


def _render(title: str, document: dict[str, Any]) -> str:
    return f"# {title}\n{json.dumps(document, indent=2)}\n"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s for s in statements if s["Resource"]]}


def _allow(sid: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    resource = resources[0] if len(resources) == 1 else sorted(set(resources))
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ServiceError(f"'{uri}' is not an s3:// URI.")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _objects(uri: str) -> str:
    """The ARN pattern for one object (a key) or every object under a prefix (ending in `/`)."""
    bucket, key = split_s3(uri)
    return f"arn:aws:s3:::{bucket}/{key}" + ("*" if not key or key.endswith("/") else "")


def _as_prefix(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def _ecr_repository(image: str) -> str | None:
    """`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG` -> the repository's ARN."""
    host, _, path = image.partition("/")
    parts = host.split(".")
    if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"] or not path:
        return None
    return f"arn:aws:ecr:{parts[3]}:{parts[0]}:repository/{path.split(':')[0].split('@')[0]}"


class LeastPrivilegeService(AwsService):
    """Plans, applies and verifies least-privilege policies."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        iam_client: Any = None,
        lambda_client: Any = None,
        sagemaker_client: Any = None,
        runtime_client: Any = None,
    ) -> None:
        given = {"iam": iam_client, "lambda": lambda_client, "sagemaker": sagemaker_client}
        super().__init__(settings, boto3_session=boto3_session, clients=given)
        self.roles = RoleService(
            self._settings, boto3_session=boto3_session, iam_client=iam_client, lambda_client=lambda_client,
            sagemaker_client=sagemaker_client,
        )  # fmt: skip
        self.prediction = PredictionService(
            boto3_session, runtime_client=runtime_client, lambda_client=lambda_client, settings=self._settings
        )

    # planning ---------------------------------------------------------------------------
    def for_function(self, function_name: str) -> Plan:
        """The policy for the role `function_name` runs as, covering every function sharing that role."""
        lambda_ = self._client("lambda")
        try:
            config = lambda_.get_function_configuration(FunctionName=function_name)
            functions = [
                f
                for page in lambda_.get_paginator("list_functions").paginate()
                for f in page["Functions"]
                if f["Role"] == config["Role"]
            ]
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"read function '{function_name}'") from exc
        _, _, _, region, account, *_ = config["FunctionArn"].split(":")
        endpoints, groups = [], []
        for function in functions:
            name = function["FunctionName"]
            endpoint = (function.get("Environment") or {}).get("Variables", {}).get("ENDPOINT_NAME")
            if not endpoint:
                raise ServiceError(
                    f"Function '{name}' shares the role but has no ENDPOINT_NAME, so the endpoint it calls is "
                    "unknown. Set ENDPOINT_NAME on it first."
                )
            endpoints.append(f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}")
            groups.append(f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{name}")
        document = _policy(
            _allow("InvokeItsEndpoints", ["sagemaker:InvokeEndpoint"], endpoints),
            _allow("CreateItsLogGroups", ["logs:CreateLogGroup"], groups),
            _allow("WriteItsLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{g}:*" for g in groups]),
        )
        stream = f"{groups[0]}:log-stream:latest"
        needed = [("sagemaker:InvokeEndpoint", e) for e in endpoints]
        needed += [("logs:CreateLogGroup", groups[0]), ("logs:PutLogEvents", stream)]
        own_endpoint = endpoints[0]
        dangerous = [
            ("sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{region}:{account}:endpoint/{_OTHER}"),
            ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{region}:{account}:endpoint/{_OTHER}"),
            ("sagemaker:DeleteEndpoint", own_endpoint),
            ("iam:PassRole", "*"),
            ("iam:PutRolePolicy", config["Role"]),
            ("s3:GetObject", f"arn:aws:s3:::{_OTHER}/any-object"),
            ("lambda:UpdateFunctionCode", config["FunctionArn"]),
            ("logs:PutLogEvents", f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{_OTHER}:log-stream:x"),
        ]
        role = self.roles.role(config["Role"].rsplit("/", 1)[-1])
        return Plan(role, document, tuple(needed), tuple(dangerous), ("lambda", function_name))

    def for_sagemaker_role(self, role_name: str) -> Plan:
        """The policy for a SageMaker execution role: its models, training jobs, endpoints and images."""
        role = self.roles.role(role_name)
        region = self._client("sagemaker").meta.region_name
        account = role.arn.split(":")[4]
        models, jobs, serving = self._sagemaker_uses(role.arn)
        if not models and not jobs:
            raise ServiceError(f"No model or training job runs as '{role_name}': there is nothing to scope it to.")
        reads = [c["ModelDataUrl"] for m in models for c in m if c.get("ModelDataUrl")]
        images = [c["Image"] for m in models for c in m if c.get("Image")]
        writes, listings = [], []
        for job in jobs:
            sources = [c["DataSource"].get("S3DataSource", {}) for c in job.get("InputDataConfig", [])]
            inputs = [source["S3Uri"] for source in sources if "S3Uri" in source]
            submit = job.get("HyperParameters", {}).get("sagemaker_submit_directory", "").strip('"')
            reads += [_as_prefix(u) for u in inputs] + ([submit] if submit.startswith("s3://") else [])
            writes.append(_as_prefix(job["OutputDataConfig"]["S3OutputPath"]))
            listings += [split_s3(_as_prefix(u)) for u in inputs]
            images.append(job["AlgorithmSpecification"].get("TrainingImage", ""))
        log = f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker"
        groups = [f"{log}/Endpoints/{e}" for e in serving] + ([f"{log}/TrainingJobs"] if jobs else [])
        repositories = [r for r in map(_ecr_repository, images) if r]
        buckets = sorted({b for b, _ in listings})
        document = _policy(
            _allow("ReadItsArtifactsAndData", ["s3:GetObject"], [_objects(u) for u in reads]),
            _allow("WriteItsOutputs", ["s3:PutObject"], [_objects(u) for u in writes]),
            _allow(
                "ListItsPrefixes",
                ["s3:ListBucket"],
                [f"arn:aws:s3:::{b}" for b in buckets],
                Condition={"StringLike": {"s3:prefix": sorted({f"{p}*" for _, p in listings})}},
            ),
            _allow("ItsLogGroups", ["logs:CreateLogGroup"], groups),
            _allow(
                "ItsLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                [f"{g}:*" for g in groups],
            ),  # fmt: skip
            _allow("PullItsImages", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], repositories),
            _allow("EcrSignIn", ["ecr:GetAuthorizationToken"], ["*"] if repositories else []),
            _allow("TrainingMetrics", ["cloudwatch:PutMetricData"], ["*"] if jobs else []),
        )
        needed = [("s3:GetObject", _objects(u).rstrip("*") + ("object" if u.endswith("/") else "")) for u in reads]
        needed += [("s3:PutObject", _objects(u).rstrip("*") + "object") for u in writes]
        needed += [("logs:PutLogEvents", f"{g}:log-stream:x") for g in groups]
        dangerous = [
            ("s3:GetObject", f"arn:aws:s3:::{_OTHER}/any-object"),
            ("s3:DeleteObject", needed[0][1]),
            ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{region}:{account}:endpoint/{_OTHER}"),
            ("sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{region}:{account}:endpoint/{_OTHER}"),
            ("iam:PassRole", "*"),
            ("iam:PutRolePolicy", role.arn),
        ]
        real = ("endpoint", serving[0]) if serving else None
        return Plan(role, document, tuple(needed), tuple(dangerous), real)

    def _sagemaker_uses(self, role_arn: str) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]], list[str]]:
        """(containers of each model, training jobs, endpoints serving the models) that run as the role."""
        sagemaker = self._client("sagemaker")
        try:
            models: dict[str, list[dict[str, Any]]] = {}
            for page in sagemaker.get_paginator("list_models").paginate():
                for summary in page["Models"]:
                    model = sagemaker.describe_model(ModelName=summary["ModelName"])
                    if model["ExecutionRoleArn"] == role_arn:
                        models[model["ModelName"]] = [model["PrimaryContainer"]] if "PrimaryContainer" in model else []
                        models[model["ModelName"]] += model.get("Containers", [])
            recent = sagemaker.list_training_jobs(MaxResults=100, SortBy="CreationTime")["TrainingJobSummaries"]
            jobs = [sagemaker.describe_training_job(TrainingJobName=j["TrainingJobName"]) for j in recent]
            serving = []
            for page in sagemaker.get_paginator("list_endpoints").paginate():
                for endpoint in page["Endpoints"]:
                    config_name = sagemaker.describe_endpoint(EndpointName=endpoint["EndpointName"])
                    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name["EndpointConfigName"])
                    if any(v["ModelName"] in models for v in config["ProductionVariants"]):
                        serving.append(endpoint["EndpointName"])
        except BOTO_ERRORS as exc:
            raise iam_error(exc, "read what runs as the role") from exc
        return list(models.values()), [j for j in jobs if j["RoleArn"] == role_arn], sorted(serving)

    # applying and verifying -----------------------------------------------------------------
    def apply(self, caller: Caller, plan: Plan) -> None:
        """The inline policy in first (no moment without permissions), then every other policy out."""
        require_operator(caller, "change a role's policies")
        iam, name = self._client("iam"), plan.role.name
        try:
            iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(plan.document))
            for policy in plan.role.policies:
                if policy.arn is not None:
                    iam.detach_role_policy(RoleName=name, PolicyArn=policy.arn)
                elif policy.name != POLICY_NAME:
                    iam.delete_role_policy(RoleName=name, PolicyName=policy.name)
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"apply the least-privilege policy to '{name}'") from exc

    def verify_by_simulation(self, plan: Plan) -> list[Check]:
        """Simulate what the role needs (must be allowed) and what is dangerous (must be denied), as it is now."""
        role = self.roles.role(plan.role.name)
        checks = [(a, r, True) for a, r in plan.needed] + [(a, r, False) for a, r in plan.dangerous]
        return [Check(a, r, want, self.roles.simulate(role, a, r).decision) for a, r, want in checks]

    def verify_by_invocation(self, plan: Plan, photo: bytes) -> Prediction:
        """Classify a real photo through the function (or endpoint) that runs as the role."""
        if plan.real_check is None:
            raise ServiceError(
                f"Nothing that runs as '{plan.role.name}' can be invoked: no endpoint serves its models."
            )
        via, target = plan.real_check
        return self.prediction.predict_image(photo, via=via, target=target)
