"""Batch transform of real dog photos by the real classifier, with real boto3 against a real localcloud: the
answers are what InvokeEndpoint answers for the same photo, on one instance or spread over two, from a prefix,
a manifest or a JSON Lines file joined to its records."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.localcloud.conftest import assert_shape
from tests.localcloud.sagemaker.transform.helpers import (
    BUCKET,
    classifier_archive,
    create_model,
    log_streams,
    outputs,
    request,
    wait_job,
    without_latency,
)

BREEDS = ("092.Keeshond", "056.Dachshund", "003.Airedale_terrier", "034.Boxer")


@pytest.fixture(scope="module")
def photos(datasets: Path) -> list[Path]:
    """One photo of each of four breeds from the test split."""
    return [sorted((datasets / "dogs-wiki-133" / "test" / breed).iterdir())[0] for breed in BREEDS]


@pytest.fixture(scope="module")
def classifier(cloud, photos):
    """The classifier as a model and behind an endpoint, and the photos in S3 under photos/<breed>/<file>;
    the endpoint's answer for each photo's key."""
    create_model(cloud, "classifier", classifier_archive())
    sagemaker, s3 = cloud.client("sagemaker"), cloud.client("s3")
    variant = {"VariantName": "AllTraffic", "ModelName": "classifier", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName="classifier", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName="classifier", EndpointConfigName="classifier")
    assert cloud.wait_endpoint("classifier")["EndpointStatus"] == "InService"
    runtime = cloud.client("sagemaker-runtime")
    answers = {}
    for photo in photos:
        key = f"photos/{photo.parent.name}/{photo.name}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=photo.read_bytes())
        reply = runtime.invoke_endpoint(EndpointName="classifier", ContentType="image/jpeg", Body=photo.read_bytes())
        answers[key] = without_latency(reply["Body"].read())
    return answers


@pytest.mark.parametrize("instances", [1, 2])
def test_every_photo_under_a_prefix_is_answered_as_the_endpoint_answers_it(cloud, classifier, instances):
    name = f"photos-on-{instances}"
    sagemaker = cloud.client("sagemaker")
    created = sagemaker.create_transform_job(
        **request(
            name,
            "classifier",
            f"s3://{BUCKET}/photos/",
            f"s3://{BUCKET}/{name}/",
            ContentType="image/jpeg",
            InstanceCount=instances,
            MaxConcurrentTransforms=2,
        )
    )
    assert created["TransformJobArn"].endswith(f":transform-job/{name}")
    job = wait_job(cloud, name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert_shape(sagemaker, "DescribeTransformJob", job)
    assert job["TransformStartTime"] <= job["TransformEndTime"]
    written = outputs(cloud, f"{name}/")
    # Each answer at the photo's path below the prefix, plus .out.
    assert sorted(written) == sorted(f"{name}/{key.removeprefix('photos/')}.out" for key in classifier)
    for key, expected in classifier.items():
        assert without_latency(written[f"{name}/{key.removeprefix('photos/')}.out"]) == expected
    streams = log_streams(cloud, name)
    instance_streams = [s for s in streams if not s.endswith("/data-log")]
    assert len(instance_streams) == instances
    for stream in instance_streams:
        assert any("serving /ping and /invocations" in line for line in streams[stream])
        assert (
            "MaxConcurrentTransforms=2, MaxPayloadInMB=6, BatchStrategy=SINGLE_RECORD"
            in streams[f"{stream}/data-log"][0]
        )


def test_a_manifest_names_the_photos_to_transform(cloud, classifier):
    chosen = sorted(classifier)[:2]
    manifest = [{"prefix": f"s3://{BUCKET}/photos/"}, *(key.removeprefix("photos/") for key in chosen)]
    cloud.client("s3").put_object(Bucket=BUCKET, Key="manifests/two.manifest", Body=json.dumps(manifest).encode())
    cloud.client("sagemaker").create_transform_job(
        **request(
            "from-manifest",
            "classifier",
            f"s3://{BUCKET}/manifests/two.manifest",
            f"s3://{BUCKET}/from-manifest",
            S3DataType="ManifestFile",
            ContentType="image/jpeg",
        )
    )
    assert wait_job(cloud, "from-manifest")["TransformJobStatus"] == "Completed"
    written = outputs(cloud, "from-manifest/")
    assert sorted(written) == sorted(f"from-manifest/{key.removeprefix('photos/')}.out" for key in chosen)
    for key in chosen:
        assert without_latency(written[f"from-manifest/{key.removeprefix('photos/')}.out"]) == classifier[key]


def test_json_lines_records_are_joined_to_their_answers_and_filtered(cloud, classifier):
    """A labelled set as one JSON Lines file: each line but its label goes to the model (InputFilter), the label
    comes back beside the answer (JoinSource Input, OutputFilter), one line each (AssembleWith Line)."""
    s3 = cloud.client("s3")
    lines = []
    for key in classifier:
        image = base64.b64encode(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).decode()
        lines.append(json.dumps({"label": key.split("/")[1], "image": image, "key": key}))
    s3.put_object(Bucket=BUCKET, Key="labelled/test.jsonl", Body="\n".join(lines).encode() + b"\n")
    cloud.client("sagemaker").create_transform_job(
        **request(
            "labelled",
            "classifier",
            f"s3://{BUCKET}/labelled/test.jsonl",
            f"s3://{BUCKET}/labelled-out",
            ContentType="application/json",
            SplitType="Line",
            BatchStrategy="SingleRecord",
            AssembleWith="Line",
            DataProcessing={
                "InputFilter": "$['image','key']",
                "JoinSource": "Input",
                "OutputFilter": "$['label','key','SageMakerOutput']",
            },
        )
    )
    job = wait_job(cloud, "labelled")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    written = outputs(cloud, "labelled-out/")["labelled-out/test.jsonl.out"].decode()
    records = [json.loads(line) for line in written.splitlines()]
    assert [r["label"] for r in records] == [key.split("/")[1] for key in classifier]
    for record in records:
        assert set(record) == {"label", "key", "SageMakerOutput"}
        assert without_latency(record["SageMakerOutput"]) == classifier[record["key"]]
