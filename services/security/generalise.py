"""From what a role must keep doing to policy statements: the generaliser behind least privilege (pure).

Each `Use` is one action on one resource pattern with the evidence for it: the role's recorded activity
(CloudTrail), its recent resources (training jobs, models, endpoints), or the dashboard's own layout (where the
Train and Deploy pages put code, data and models). Recorded accesses are generalised to the workflow's layout,
as IAM Access Analyzer generalises activity to resources: the code object of one job becomes the code of any
job (`<bucket>/*/source/sourcedir.tar.gz`), a channel's objects its prefix, a log stream its group. Uses are
then grouped into statements (one purpose, one Sid), each keeping its evidence for the page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from services.security.activity import Access, Activity
from services.security.iam_catalog import globs_overlap, statement_problems

Evidence = Literal["CloudTrail", "recent resources", "dashboard layout"]
ENDPOINT_LOG_GROUPS = "/aws/sagemaker/Endpoints/"


@dataclass(frozen=True)
class Use:
    """One action on one resource pattern the role needs, under an optional condition (operator, key,
    value), and why we know it needs it."""

    sid: str
    action: str
    resource: str
    source: Evidence
    why: str
    condition: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class PlannedStatement:
    """One statement of a plan, the evidence it came from, and what IAM's definitions say is wrong with it."""

    statement: dict[str, Any]
    evidence: tuple[tuple[Evidence, str], ...]
    problems: tuple[str, ...]

    @property
    def sid(self) -> str:
        return str(self.statement["Sid"])

    @property
    def sources(self) -> tuple[Evidence, ...]:
        return tuple(dict.fromkeys(source for source, _ in self.evidence))


@dataclass(frozen=True)
class Layout:
    """Where the role's workflow keeps things, as S3 object patterns `bucket/key` (IAM wildcards)."""

    code: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()


def covers(pattern: str, value: str) -> bool:
    """Whether the IAM pattern matches `value` (a literal)."""
    return globs_overlap(pattern, value.replace("*", "\0").replace("?", "\0"))


def s3_object_use(action: str, obj: str, layout: Layout) -> tuple[str, str]:
    """(Sid, object pattern) for an S3 object access `bucket/key`: the layout's pattern that holds it, or the
    object itself."""
    if action == "s3:GetObject":
        for sid, patterns in (
            ("ReadTrainingCode", layout.code),
            ("ReadTrainingData", layout.channels),
            ("ReadModelArtifacts", layout.artifacts),
        ):
            for pattern in patterns:
                if covers(pattern, obj):
                    return sid, pattern
    if action == "s3:PutObject":
        for pattern in layout.outputs:
            if covers(pattern, obj):
                return "WriteTrainingOutput", pattern
    return ("ReadObjectsSeen" if action == "s3:GetObject" else "ObjectAccessSeen"), obj


def list_prefix_use(bucket: str, prefix: str, layout: Layout) -> tuple[str, str]:
    """(Sid, `s3:prefix` pattern) for a listing of `bucket` under `prefix`: the channel it lists, or itself."""
    for pattern in layout.channels:
        channel_bucket, _, key_pattern = pattern.partition("/")
        if channel_bucket == bucket and covers(key_pattern, prefix):
            return "ListTrainingData", key_pattern
    return "ListPrefixesSeen", prefix + "*" if prefix else ""


def _log_group(arn: str) -> str:
    """`...:log-group:G:log-stream:S` or `...:log-group:G:*` -> `...:log-group:G`, endpoint groups as one."""
    head, _, group = arn.partition(":log-group:")
    group = group.split(":log-stream:")[0].removesuffix(":*")
    if group.startswith(ENDPOINT_LOG_GROUPS):
        group = ENDPOINT_LOG_GROUPS + "*"
    return f"{head}:log-group:{group}"


def use_of(access: Access, layout: Layout) -> tuple[str, str, tuple[str, str, str] | None] | None:
    """(Sid, resource pattern, condition) an access generalises to; None for an access with no resource."""
    resource = access.resources[0] if access.resources else "*"
    action = access.action
    if action == "s3:ListBucket":
        bucket = resource.removeprefix("arn:aws:s3:::")
        sid, prefix = list_prefix_use(bucket, access.conditions.get("s3:prefix", ""), layout)
        return sid, resource, ("StringLike", "s3:prefix", prefix)
    if action.startswith("s3:") and resource.startswith("arn:aws:s3:::") and "/" in resource:
        sid, pattern = s3_object_use(action, resource.removeprefix("arn:aws:s3:::"), layout)
        return sid, f"arn:aws:s3:::{pattern}", None
    if action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        return "WriteLogs", _log_group(resource) + ":*", None
    if action == "logs:CreateLogGroup":
        return "CreateLogGroups", _log_group(resource), None
    if action == "cloudwatch:PutMetricData":
        namespace = access.conditions.get("cloudwatch:namespace")
        return "PutMetrics", "*", ("StringEquals", "cloudwatch:namespace", namespace) if namespace else None
    if action == "sagemaker:InvokeEndpoint":
        return "InvokeEndpoints", resource, None
    if resource == "*":
        return None
    return "Seen" + "".join(part.title() for part in action.replace(":", " ").split()), resource, None


def uses_from_activity(activity: Activity, layout: Layout) -> tuple[list[Use], list[Access]]:
    """Uses the recorded accesses generalise to (one per Sid, resource and condition, counted), and the
    refused accesses, which are shown but never granted: a refusal is what the plan is for."""
    counts: dict[tuple[str, str, str, tuple[str, str, str] | None], list[Access]] = defaultdict(list)
    refused = [a for a in activity.accesses if a.refused]
    for access in activity.accesses:
        if access.refused:
            continue
        use = use_of(access, layout)
        if use is not None:
            counts[(use[0], access.action, use[1], use[2])].append(access)
    uses = []
    for (sid, action, resource, condition), seen in counts.items():
        newest = max(a.at for a in seen).strftime("%Y-%m-%d %H:%M UTC")
        by = {a.invoked_by for a in seen if a.invoked_by}
        made = f", made by {', '.join(sorted(by))} as the role" if by else ""
        example = max(seen, key=lambda a: a.at).resources[0].removeprefix("arn:aws:s3:::")
        why = f"{len(seen)} × {action} recorded, newest {newest} on {example}{made}"
        uses.append(Use(sid, action, resource, "CloudTrail", why, condition))
    return uses, refused


def _without_covered(resources: set[str]) -> list[str]:
    """Drop a pattern another pattern of the same statement already covers."""
    return sorted(r for r in resources if not any(o != r and covers(o, r) for o in resources))


def plan_statements(uses: list[Use]) -> list[PlannedStatement]:
    """Group the uses by Sid (and condition key) into statements, each with its evidence, in Sid order."""
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[Use]] = defaultdict(list)
    for use in uses:
        groups[(use.sid, (use.condition[:2],) if use.condition else ())].append(use)
    planned = []
    for (sid, keyed), members in sorted(groups.items()):
        resources = _without_covered({u.resource for u in members})
        statement: dict[str, Any] = {
            "Sid": sid if len([k for k in groups if k[0] == sid]) == 1 else sid + "".join(k for _, k in keyed),
            "Effect": "Allow",
            "Action": sorted({u.action for u in members}),
            "Resource": resources[0] if len(resources) == 1 else resources,
        }
        if keyed:
            operator, key = keyed[0]
            values = _without_covered({u.condition[2] for u in members if u.condition})
            statement["Condition"] = {operator: {key: values[0] if len(values) == 1 else values}}
        statement["Sid"] = "".join(c for c in statement["Sid"] if c.isalnum())
        evidence = tuple(dict.fromkeys((u.source, u.why) for u in members))
        planned.append(PlannedStatement(statement, evidence, tuple(statement_problems(statement))))
    return planned
