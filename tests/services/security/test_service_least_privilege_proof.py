"""A least-privilege plan for a SageMaker execution role proven end to end against a real localcloud: apply, a
new job with new code trains, its model deploys and classifies a photo, a job reading another bucket is
refused; and a plan missing the code read fails the training step with AccessDenied, as AWS would.

The role is the test's own (as broad as the original project's), so the session's default roles stay as
bootstrap made them; its one earlier job is the recent resource the plan is generated from.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest

from services.core.access import Caller
from services.core.clients import CloudSettings
from services.security.least_privilege import LeastPrivilegeService
from services.security.least_privilege_proof import LeastPrivilegeProof, ProofStep
from services.training.job_spec import TrainingSpec
from services.training.sagemaker_training import TrainingService
from tests.channels import complete_breeds, upload_breeds

ROLE = "lp-test-sagemaker"
BUCKET = "sagemaker-us-east-1-000000000000"
CHANNEL = f"s3://{BUCKET}/datasets/lp-test/"
OPERATOR = Caller("ana", "operator")


@pytest.fixture(scope="module")
def trained_role(localcloud, datasets) -> str:
    """The test's own SageMaker role with AmazonSageMakerFullAccess, and one 1-epoch job done as it on a tiny
    channel (three breeds), launched as the Train page launches it."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = localcloud.client("iam")
    arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    upload_breeds(localcloud.client("s3"), BUCKET, "datasets/lp-test", complete_breeds(3))
    settings = CloudSettings(localcloud.endpoint_url, "us-east-1", None)
    training = TrainingService(localcloud.session(), settings=settings)
    name = "lp-test-first-job"
    spec = TrainingSpec(name, CHANNEL, training.default_output_path(), epochs=1, batch_size=4, role_arn=arn)
    training.launch(spec)
    deadline = time.monotonic() + 300
    while not (job := training.describe(name)).ended and time.monotonic() < deadline:
        time.sleep(1)
    assert job.status == "Completed", job.failure_reason
    return ROLE


@pytest.fixture
def settings(aws_env) -> CloudSettings:
    return CloudSettings.from_env()


def test_a_plan_generated_from_its_job_is_applied_and_proven_by_real_work(
    settings, trained_role, dog_photo, localcloud
):
    service = LeastPrivilegeService(settings)
    plan = service.for_sagemaker_role(trained_role)
    statements = {p.sid: p.statement for p in plan.statements}
    assert statements["ReadTrainingCode"]["Resource"] == f"arn:aws:s3:::{BUCKET}/*/source/sourcedir.tar.gz"
    assert statements["ReadTrainingData"]["Resource"] == f"arn:aws:s3:::{BUCKET}/datasets/lp-test/*"
    assert statements["ListTrainingData"]["Condition"] == {"StringLike": {"s3:prefix": "datasets/lp-test/*"}}
    assert all("recent resources" in p.sources for p in plan.statements)  # not the default role: no layout

    applied_at = service.apply(OPERATOR, plan)
    sagemaker = localcloud.client("sagemaker")
    isolated: dict[str, bool] = {}

    def look(step: ProofStep) -> None:  # what the proof made runs without the network, as the page advises
        if step.step == "deploy" and step.outcome == "passed":
            model = sagemaker.describe_model(ModelName=step.ran.split("endpoint ")[1].split()[0])
            isolated["model"] = model.get("EnableNetworkIsolation", False)

    proof = LeastPrivilegeProof(settings, poll_s=0.5).prove(
        plan, dog_photo.read_bytes(), applied_at=applied_at, data_uri=CHANNEL, progress=look
    )
    steps = {s.step: s for s in proof.steps}
    assert [s.step for s in proof.steps] == ["wait for IAM", "train", "deploy", "classify", "refuse", "clean up"]
    assert proof.proven, [(s.step, s.detail) for s in proof.steps]
    assert steps["train"].detail.startswith("Completed")
    assert steps["deploy"].detail == "InService"
    assert re.fullmatch(r"answered: a dog, .+ \(\d+(\.\d+)?%\)", steps["classify"].detail), steps["classify"].detail
    job = steps["train"].ran.split()[2].rstrip(":")
    assert sagemaker.describe_training_job(TrainingJobName=job)["EnableNetworkIsolation"] is True
    assert isolated == {"model": True}
    assert "AccessDenied" in steps["refuse"].detail and "lp-proof-outside" in steps["refuse"].detail
    assert proof.seconds_from_apply is not None and proof.seconds_from_apply > steps["train"].seconds


def test_a_plan_without_the_code_read_fails_the_training_step_with_access_denied(settings, trained_role, dog_photo):
    service = LeastPrivilegeService(settings)
    plan = service.for_sagemaker_role(trained_role)
    too_tight = dataclasses.replace(plan, statements=tuple(p for p in plan.statements if p.sid != "ReadTrainingCode"))
    applied_at = service.apply(OPERATOR, too_tight)
    proof = LeastPrivilegeProof(settings, poll_s=0.5).prove(
        too_tight, dog_photo.read_bytes(), applied_at=applied_at, data_uri=CHANNEL
    )
    steps = {s.step: s for s in proof.steps}
    assert not proof.proven
    assert steps["train"].outcome == "failed"
    assert "AccessDenied" in steps["train"].detail and "/source/sourcedir.tar.gz" in steps["train"].detail
    assert (steps["deploy"].outcome, steps["classify"].outcome) == ("skipped", "skipped")
    assert steps["refuse"].outcome == "passed"
    service.apply(OPERATOR, plan)  # the role can train again for whatever runs next
