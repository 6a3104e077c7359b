"""Prove an applied least-privilege plan with real work done as the role, not with the dashboard's own keys.

The SageMaker execution role: a new training job with new code at a new key trains to Completed (SageMaker
reads its code and data and writes its model as the role), its model deploys to a new endpoint that classifies
a real photo (the endpoint reads the artifact as the role), and a job whose data channel lies in another bucket
fails with AccessDenied. The function's role: the function classifies a photo through its role, and a copy of
it on the same role, pointed at an endpoint outside the plan, is refused. Every step is timed; what a step made
is removed again at the end. A policy that is too tight fails a step, which is the point.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3

from classifier.packaging import build_lambda_zip
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.pricing import INSTANCE_TYPES
from services.security.generalise import covers
from services.security.least_privilege import Plan
from services.security.role_uses import s3_split
from services.serving.deploy import INFERENCE_INSTANCE_TYPES, DeployService
from services.serving.endpoint_management import EndpointsService
from services.serving.prediction import PredictionService
from services.training.job_spec import TrainingSpec, artifact_uri
from services.training.sagemaker_training import TrainingService

Outcome = Literal["passed", "failed", "skipped"]
PROOF_PREFIX = "lp-proof"
TRAINING_TIMEOUT_S = 1800
ENDPOINT_TIMEOUT_S = 600
PROPAGATION_S = 10.0
"""IAM applies a policy change within seconds, not at once (it is eventually consistent, on AWS and localcloud
alike): the proof starts this long after Apply, so it tests the applied policy and not the one before."""
SHORTEST_INSTANCE = min(INSTANCE_TYPES.values(), key=lambda t: t.hourly_usd).name
_DENIED = ("AccessDenied", "not authorized")


@dataclass(frozen=True)
class ProofStep:
    """One step: what ran, its outcome (a refusal step passes when the request was refused) and its time."""

    step: str
    ran: str
    outcome: Outcome
    detail: str
    seconds: float


@dataclass(frozen=True)
class Proof:
    """All steps for one role, and the time from Apply to the end of the proof."""

    role: str
    steps: tuple[ProofStep, ...]
    applied_at: float | None
    finished_at: float = field(default_factory=time.time)

    @property
    def proven(self) -> bool:
        return all(step.outcome == "passed" for step in self.steps)

    @property
    def seconds_from_apply(self) -> float | None:
        return None if self.applied_at is None else self.finished_at - self.applied_at


def _pause(seconds: float) -> tuple[bool, str]:
    time.sleep(seconds)
    return True, f"waited {seconds:.1f} s"


def _percent(score: float) -> str:
    """`46%`, or `0.46%` for a small score that would otherwise read as 0."""
    return f"{score:.0%}" if score >= 0.01 else f"{score:.2%}"


def _denied(text: str) -> bool:
    return any(word in text for word in _DENIED)


class _Steps:
    """Runs steps in order, timing each, reporting each as it ends, skipping those whose inputs failed."""

    def __init__(self, progress: Callable[[ProofStep], None] | None) -> None:
        self.done: list[ProofStep] = []
        self.progress = progress

    def run(self, step: str, ran: str, work: Callable[[], tuple[bool, str]], *, needs: tuple[str, ...] = ()) -> bool:
        failed = [s.step for s in self.done if s.step in needs and s.outcome != "passed"]
        start = time.monotonic()
        if failed:
            ok, outcome, detail = False, "skipped", f"not run: {', '.join(failed)} did not pass"
        else:
            try:
                ok, detail = work()
            except ServiceError as exc:
                ok, detail = False, exc.message
            outcome = "passed" if ok else "failed"
        result = ProofStep(step, ran, outcome, detail, round(time.monotonic() - start, 1))  # type: ignore[arg-type]
        self.done.append(result)
        if self.progress:
            self.progress(result)
        return ok


class LeastPrivilegeProof(AwsService):
    """Runs the proof through the dashboard's own services, as an operator would do the work."""

    def __init__(
        self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None, poll_s: float = 2.0
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session)
        self.poll_s = poll_s
        self.training = TrainingService(boto3_session, settings=self._settings)
        self.deploy = DeployService(boto3_session, settings=self._settings)
        self.endpoints = EndpointsService(self._settings, boto3_session=boto3_session)
        self.prediction = PredictionService(boto3_session, settings=self._settings)

    def default_channel(self, plan: Plan) -> str | None:
        """The newest channel the role trained on, else the Data page's newest dataset in the default bucket."""
        for job in self.training.list_jobs(max_results=20).jobs:
            described = self.training.describe(job.name)
            if described.role_arn == plan.role.arn and described.data_uri:
                return described.data_uri
        bucket = self.training.default_output_path().split("/")[2]
        datasets = self.training.datasets().list_datasets(bucket)
        return f"s3://{bucket}/{datasets[-1]}" if datasets else None

    def prove(
        self,
        plan: Plan,
        photo: bytes,
        *,
        applied_at: float | None = None,
        data_uri: str | None = None,
        progress: Callable[[ProofStep], None] | None = None,
    ) -> Proof:
        """Run every step for the plan's role (`data_uri`: the SageMaker job's channel, which the plan must
        allow); `progress` hears of each step as it ends."""
        steps = _Steps(progress)
        wait = 0.0 if applied_at is None else max(0.0, applied_at + PROPAGATION_S - time.time())
        steps.run("wait for IAM", f"{wait:.0f} s, so the applied policy is in force", lambda: _pause(wait))
        if plan.target is not None and plan.target[0] == "lambda":
            self._prove_function(steps, photo, plan.target[1])
        else:
            channel = data_uri or self.default_channel(plan)
            if not channel:
                raise ServiceError("No dataset to train on: upload one on the Data page, or give a data channel.")
            self._prove_training(steps, plan, photo, channel)
        return Proof(plan.role.name, tuple(steps.done), applied_at)

    # the SageMaker execution role -------------------------------------------------------------
    def _prove_training(self, steps: _Steps, plan: Plan, photo: bytes, channel: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        name, outside_name = f"{PROOF_PREFIX}-{stamp}", f"{PROOF_PREFIX}-outside-{stamp}"
        output = self._output_path(plan)
        spec = self._spec(name, channel, output, plan.role.arn)
        trained = (
            f"training job {name}: 1 epoch, head only, {SHORTEST_INSTANCE}, network isolation, data {channel}, "
            "code at a new key"
        )
        steps.run("train", trained, lambda: self._train(spec, expect_refusal=False))
        endpoint = name
        deployed = f"model (network isolation) and endpoint {endpoint} from {artifact_uri(spec)}"
        steps.run("deploy", deployed, lambda: self._deploy(spec, endpoint, plan.role.arn), needs=("train",))
        classified = f"a photo through endpoint {endpoint}"
        steps.run("classify", classified, lambda: self._classify(photo, "endpoint", endpoint), needs=("deploy",))
        bucket = f"{outside_name}-{plan.role.arn.split(':')[4]}"[:63]
        refused = f"training job {outside_name} on s3://{bucket}/data/, a bucket outside the plan"
        steps.run("refuse", refused, lambda: self._outside_job(outside_name, channel, bucket, output, plan.role.arn))
        steps.run("clean up", f"endpoint {endpoint}, its model, bucket {bucket}", lambda: self._clean(endpoint, bucket))

    def _output_path(self, plan: Plan) -> str:
        """The Train page's default output path when the plan lets the role write there, else one it does."""
        default = self.training.default_output_path()
        probe = "/".join(s3_split(default)) + "example/output/model.tar.gz"
        if any(covers(pattern, probe) for pattern in plan.layout.outputs) or not plan.layout.outputs:
            return default
        return "s3://" + plan.layout.outputs[0].removesuffix("*")

    def _spec(self, name: str, channel: str, output: str, role_arn: str, *, batch_size: int = 32) -> TrainingSpec:
        """The shortest job the Train page offers: one epoch, head only, the cheapest instance; with network
        isolation, as the Security page advises (its data arrives through SageMaker's own download)."""
        spec = TrainingSpec(name, channel, output, epochs=1, fine_tune="head", batch_size=1, role_arn=role_arn)
        train_size = self.training.check(spec).train_size
        return TrainingSpec(
            name,
            channel,
            output,
            epochs=1,
            fine_tune="head",
            batch_size=max(1, min(batch_size, train_size)),
            instance_type=SHORTEST_INSTANCE,
            max_runtime_s=TRAINING_TIMEOUT_S,
            role_arn=role_arn,
            network_isolation=True,
        )

    def _train(self, spec: TrainingSpec, *, expect_refusal: bool) -> tuple[bool, str]:
        self.training.launch(spec)
        deadline = time.monotonic() + TRAINING_TIMEOUT_S + 60
        job = self.training.describe(spec.job_name)
        while not job.ended and time.monotonic() < deadline:
            time.sleep(self.poll_s)
            job = self.training.describe(spec.job_name)
        reason = job.failure_reason or ""
        if expect_refusal:
            if job.status == "Failed" and _denied(reason):
                return True, f"refused as it must be: {reason}"
            return False, f"ended {job.status}, not refused: {reason or 'the plan let it read the other bucket'}"
        return job.status == "Completed", f"{job.status}" + (f": {reason}" if reason else f", {job.model_artifact}")

    def _deploy(self, spec: TrainingSpec, endpoint: str, role_arn: str) -> tuple[bool, str]:
        """The model first, with network isolation (the endpoint reads its artifact as the role all the same),
        then the endpoint, which serves the model of that name."""
        request = self.deploy.model_request(artifact_uri(spec), endpoint, role_arn)
        try:
            self._client("sagemaker").create_model(**request, EnableNetworkIsolation=True)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"create model {endpoint}") from exc
        self.deploy.deploy_model(
            artifact_uri(spec),
            model_name=endpoint,
            endpoint_name=endpoint,
            instance_type=INFERENCE_INSTANCE_TYPES[0],
            role_arn=role_arn,
        )
        deadline = time.monotonic() + ENDPOINT_TIMEOUT_S
        state = self.deploy.wait_status(endpoint)
        while not state.settled and time.monotonic() < deadline:
            time.sleep(self.poll_s)
            state = self.deploy.wait_status(endpoint)
        return state.status == "InService", state.status + (f": {state.failure_reason}" if state.failure_reason else "")

    def _classify(self, photo: bytes, via: Literal["lambda", "endpoint"], target: str) -> tuple[bool, str]:
        prediction = self.prediction.predict_image(photo, via=via, target=target)
        if not prediction.breeds:
            return False, "answered without a breed"
        top = f"{prediction.breeds[0].label} ({_percent(prediction.breeds[0].score)})"
        if prediction.is_dog is False:
            dog_score = f", dog score {_percent(prediction.dog_score)}" if prediction.dog_score is not None else ""
            return True, f"answered: not a dog{dog_score}; top breed {top}"
        return True, f"answered: {'a dog, ' if prediction.is_dog else ''}{top}"

    def _outside_job(self, name: str, channel: str, bucket: str, output: str, role_arn: str) -> tuple[bool, str]:
        """A job like the proven one whose channel is a few of the same photos in a bucket outside the plan."""
        s3 = self._client("s3")
        source_bucket, _, prefix = channel[5:].partition("/")
        prefix = prefix.rstrip("/") + "/"
        self.training.datasets().ensure_bucket(bucket)
        try:
            for split in ("train", "valid", "test"):
                listed = s3.list_objects_v2(Bucket=source_bucket, Prefix=f"{prefix}{split}/", MaxKeys=1)
                for item in listed.get("Contents", []):
                    key = "data/" + item["Key"][len(prefix) :]
                    body = s3.get_object(Bucket=source_bucket, Key=item["Key"])["Body"].read()
                    s3.put_object(Bucket=bucket, Key=key, Body=body)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"copy a few photos to s3://{bucket}") from exc
        spec = self._spec(name, f"s3://{bucket}/data/", output, role_arn, batch_size=1)
        return self._train(spec, expect_refusal=True)

    def _clean(self, endpoint: str, bucket: str) -> tuple[bool, str]:
        removed = []
        try:
            self.endpoints.delete(endpoint)
            removed.append(f"endpoint {endpoint}")
        except ServiceError:  # no endpoint came: the model made for it may still be there
            with contextlib.suppress(*BOTO_ERRORS):
                self._client("sagemaker").delete_model(ModelName=endpoint)
                removed.append(f"model {endpoint}")
        s3 = self._client("s3")
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)
            removed.append(f"bucket {bucket}")
        except BOTO_ERRORS as exc:
            if "NoSuchBucket" not in str(exc):
                return (
                    False,
                    f"removed {', '.join(removed) or 'nothing'}; {from_client_error(exc, what='clean up').message}",
                )
        return True, f"removed {', '.join(removed) or 'nothing (none was made)'}"

    # the function's role ------------------------------------------------------------------------
    def _prove_function(self, steps: _Steps, photo: bytes, function: str) -> None:
        steps.run("classify", f"a photo through function {function}", lambda: self._classify(photo, "lambda", function))
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        copy = f"{PROOF_PREFIX}-outside-{stamp}"
        ran = f"function {copy}: {function}'s role, ENDPOINT_NAME {copy}, an endpoint outside the plan"
        steps.run("refuse", ran, lambda: self._outside_function(function, copy, photo))
        steps.run("clean up", f"function {copy}", lambda: self._delete_function(copy))

    def _outside_function(self, function: str, copy: str, photo: bytes) -> tuple[bool, str]:
        """The function's code on the same role, calling an endpoint the plan does not name."""
        lambda_ = self._client("lambda")
        try:
            config = lambda_.get_function_configuration(FunctionName=function)
            with tempfile.TemporaryDirectory(prefix="lp-proof-") as scratch:
                code = build_lambda_zip(Path(scratch) / "function.zip").read_bytes()
            lambda_.create_function(
                FunctionName=copy,
                Runtime=config.get("Runtime", "python3.11"),
                Role=config["Role"],
                Handler=config.get("Handler", "lambda_function.lambda_handler"),
                Code={"ZipFile": code},
                Timeout=config.get("Timeout", 30),
                Environment={"Variables": {"ENDPOINT_NAME": copy}},
            )
            self._wait_active(copy)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"make function {copy}") from exc
        try:
            prediction = self.prediction.predict_image(photo, via="lambda", target=copy)
        except ServiceError as exc:
            if _denied(exc.message):
                return True, f"refused as it must be: {exc.message}"
            return False, f"failed, but not refused: {exc.message}"
        return False, f"not refused: it answered {prediction.breeds[0].label if prediction.breeds else 'nothing'}"

    def _wait_active(self, name: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state: dict[str, Any] = self._client("lambda").get_function_configuration(FunctionName=name)
            if state.get("State", "Active") == "Active":
                return
            time.sleep(self.poll_s)
        raise ServiceError(f"Function {name} did not become Active within 2 minutes.")

    def _delete_function(self, name: str) -> tuple[bool, str]:
        try:
            self._client("lambda").delete_function(FunctionName=name)
        except BOTO_ERRORS as exc:
            if "ResourceNotFound" in str(exc):
                return True, "nothing to remove"
            return False, from_client_error(exc, what=f"delete function {name}").message
        return True, f"removed function {name}"
