"""EnableNetworkIsolation through real boto3: a training job's or model's container has no network and no
credentials (its data still arrives, through SageMaker's own download); hosts of one job reach each other;
an isolated endpoint still serves. VpcConfig is kept and described."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap

import pytest

from localcloud.core import process
from localcloud.core.process import ISOLATION_NOT_ENFORCED, namespaces_allowed, without_network
from tests.localcloud.sagemaker.training_helpers import training_request, wait_training

VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}
OUR_NAMESPACE = os.readlink("/proc/self/ns/net")  # localcloud's too: it runs on this machine as our child

# What a container finds out about its network: printed by the training program, answered by the model.
PROBE = textwrap.dedent("""
    import json, os, urllib.request

    def probe(target):
        try:
            urllib.request.urlopen(target, timeout=5).read()
            reached = "reached"
        except OSError as error:
            reached = type(error).__name__
        return {
            "network": reached,
            "credentials": "AWS_ACCESS_KEY_ID" in os.environ,
            "namespace": os.readlink("/proc/self/ns/net"),
        }
""")
PROGRAM = PROBE + textwrap.dedent("""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--target")
    args = parser.parse_args()
    print("probe", json.dumps(probe(args.target)), flush=True)
    print("data", sorted(os.listdir(os.environ["SM_CHANNEL_TRAINING"])), flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
        f.write("{}")
""")
HANDLER = PROBE + textwrap.dedent("""
    def model_fn(model_dir):
        return None

    def input_fn(body, content_type):
        return json.loads(body)

    def predict_fn(data, model):
        return probe(data["target"])

    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
""")


def _archive(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def isolation_cloud(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="isolation")
    s3.put_object(Bucket="isolation", Key="data/train/a.jpg", Body=b"x")
    s3.put_object(Bucket="isolation", Key="code/sourcedir.tar.gz", Body=_archive({"train.py": PROGRAM}))
    s3.put_object(Bucket="isolation", Key="model/model.tar.gz", Body=_archive({"code/inference.py": HANDLER}))
    return cloud


def _health(cloud) -> str:
    return f"{cloud.endpoint_url}/_localcloud/health"


def _train(cloud, name: str, *, count: int = 1, **isolation) -> tuple[dict, list[dict]]:
    """Run the probe program; the job's description and each host's probe, from the job's log."""
    request = training_request(
        name, bucket="isolation", channel="s3://isolation/data", metrics=[], count=count, target=_health(cloud)
    )
    cloud.client("sagemaker").create_training_job(**request, **isolation)
    job = wait_training(cloud, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    logs, probes = cloud.client("logs"), []
    group = "/aws/sagemaker/TrainingJobs"
    for host in range(1, count + 1):
        (stream,) = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/algo-{host}-")[
            "logStreams"
        ]
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
        lines = [e["message"] for e in events["events"]]
        assert "data ['train']" in lines  # staged outside the container, as SageMaker's own download
        if not namespaces_allowed():
            assert ISOLATION_NOT_ENFORCED in lines or not isolation.get("EnableNetworkIsolation")
        probes += [json.loads(line.removeprefix("probe ")) for line in lines if line.startswith("probe ")]
    return job, probes


def test_an_isolated_training_job_has_no_network_and_no_credentials(isolation_cloud):
    job, (probe,) = _train(isolation_cloud, "isolated-job", EnableNetworkIsolation=True, VpcConfig=VPC)
    assert (job["EnableNetworkIsolation"], job["VpcConfig"]) == (True, VPC)
    assert probe["credentials"] is False  # SageMaker hands an isolated container none
    if namespaces_allowed():
        assert probe["network"] != "reached" and probe["namespace"] != OUR_NAMESPACE
    model = isolation_cloud.client("s3").head_object(Bucket="isolation", Key="output/isolated-job/output/model.tar.gz")
    assert model["ContentLength"] > 0  # uploaded by SageMaker, outside the container


def test_a_training_job_without_isolation_reaches_the_network(isolation_cloud):
    job, (probe,) = _train(isolation_cloud, "open-job")
    assert job["EnableNetworkIsolation"] is False and "VpcConfig" not in job
    assert (probe["network"], probe["credentials"], probe["namespace"]) == ("reached", True, OUR_NAMESPACE)


@pytest.mark.skipif(not namespaces_allowed(), reason="this machine refuses network namespaces")
def test_the_hosts_of_an_isolated_job_share_one_network_of_their_own(isolation_cloud):
    _, probes = _train(isolation_cloud, "isolated-pair", count=2, EnableNetworkIsolation=True)
    assert [p["network"] for p in probes] == ["URLError", "URLError"]
    assert probes[0]["namespace"] == probes[1]["namespace"] != OUR_NAMESPACE


def _deploy(cloud, name: str, **isolation) -> dict:
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::000000000000:role/sagemaker-test",
        PrimaryContainer={"Image": "pytorch-inference", "ModelDataUrl": "s3://isolation/model/model.tar.gz"},
        **isolation,
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert cloud.wait_endpoint(name)["EndpointStatus"] == "InService"
    response = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=json.dumps({"target": _health(cloud)}), ContentType="application/json"
    )
    return json.loads(response["Body"].read())


def test_an_isolated_model_serves_without_network_or_credentials(isolation_cloud):
    probe = _deploy(isolation_cloud, "isolated-model", EnableNetworkIsolation=True, VpcConfig=VPC)
    model = isolation_cloud.client("sagemaker").describe_model(ModelName="isolated-model")
    assert (model["EnableNetworkIsolation"], model["VpcConfig"]) == (True, VPC)
    assert probe["credentials"] is False
    if namespaces_allowed():
        assert probe["network"] != "reached" and probe["namespace"] != OUR_NAMESPACE
    open_probe = _deploy(isolation_cloud, "open-model")
    assert (open_probe["network"], open_probe["credentials"]) == ("reached", True)
    assert isolation_cloud.client("sagemaker").describe_model(ModelName="open-model")["EnableNetworkIsolation"] is False


def test_where_namespaces_are_refused_the_command_runs_and_says_so(monkeypatch):
    monkeypatch.setattr(process, "namespaces_allowed", lambda: False)
    command = without_network([sys.executable, "-c", "print('ran')"], isolate=True)
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    assert (finished.stdout, finished.stderr) == ("ran\n", ISOLATION_NOT_ENFORCED + "\n")
