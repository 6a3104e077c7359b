"""UpdateEndpoint on an autoscaled variant, through real boto3, as AWS documents it: a new model is allowed,
RetainAllVariantProperties keeps the instance count autoscaling (or an operator) set, and only removing the
variant or changing its instance type is refused until it is deregistered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from tests.clouds import sagemaker_role
from tests.localcloud.autoscaling.scaling_helpers import target
from tests.localcloud.conftest import deploy_echo, model_archive

REFUSAL = (
    'The variant(s) "[AllTraffic]" must be deregistered as scalable targets with AWS Application Auto Scaling '
    "before they can be removed or have their instance types updated."
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    process = LocalCloudProcess(
        tmp_path_factory.mktemp("autoscaled-update"),
        ["--no-defaults", "--metric-period-seconds", "1", "--endpoint-instances", "4"],
    ).start()
    yield process
    process.stop()


def new_config(
    cloud: LocalCloudProcess, name: str, greeting: str, *, variant: str = "AllTraffic", kind: str = "ml.m5.large"
) -> None:
    """A model answering `greeting` and a one-instance config serving it."""
    cloud.client("s3").put_object(Bucket="artifacts", Key=f"{name}/model.tar.gz", Body=model_archive(greeting))
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=sagemaker_role(cloud),
        PrimaryContainer={"Image": "pytorch-inference", "ModelDataUrl": f"s3://artifacts/{name}/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": variant, "ModelName": name, "InitialInstanceCount": 1, "InstanceType": kind}
        ],
    )


def settled(cloud: LocalCloudProcess, name: str, config: str) -> dict:
    """The endpoint's only variant once it serves `config` with every instance it wants."""
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + 120
    while True:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        variant = (endpoint.get("ProductionVariants") or [{}])[0]
        if (
            endpoint["EndpointStatus"] == "InService"
            and endpoint["EndpointConfigName"] == config
            and variant.get("CurrentInstanceCount") == variant.get("DesiredInstanceCount")
        ):
            return variant
        assert endpoint["EndpointStatus"] != "Failed", endpoint.get("FailureReason")
        assert time.monotonic() < deadline, f"{name} never settled on {config}: {endpoint}"
        time.sleep(0.1)


def greeting(cloud: LocalCloudProcess, name: str) -> str:
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=b"hi", ContentType="text/plain")
    return json.loads(answer["Body"].read())["greeting"]


def refused(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["Error"]["Code"] == "ValidationException"
    return info.value.response["Error"]["Message"]


def test_a_new_model_on_an_autoscaled_variant_keeps_the_count_it_was_scaled_to(cloud: LocalCloudProcess) -> None:
    sagemaker, scaling = cloud.client("sagemaker"), cloud.client("application-autoscaling")
    deploy_echo(cloud, "grown", greeting="one")
    settled(cloud, "grown", "grown")
    scaling.register_scalable_target(**target("grown", MinCapacity=1, MaxCapacity=3))
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="grown", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}]
    )
    settled(cloud, "grown", "grown")

    new_config(cloud, "grown-two", "two")  # InitialInstanceCount 1
    sagemaker.update_endpoint(EndpointName="grown", EndpointConfigName="grown-two", RetainAllVariantProperties=True)
    variant = settled(cloud, "grown", "grown-two")
    assert greeting(cloud, "grown") == "two"
    assert (variant["DesiredInstanceCount"], variant["CurrentInstanceCount"]) == (2, 2)  # retained, not the config's 1
    registered = scaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=["endpoint/grown/variant/AllTraffic"]
    )
    assert [t["MaxCapacity"] for t in registered["ScalableTargets"]] == [3]  # still autoscaled

    new_config(cloud, "grown-three", "three")
    sagemaker.update_endpoint(
        EndpointName="grown",
        EndpointConfigName="grown-three",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredInstanceCount"}],
    )
    assert settled(cloud, "grown", "grown-three")["DesiredInstanceCount"] == 1  # the config's count, as asked
    assert greeting(cloud, "grown") == "three"

    new_config(cloud, "grown-four", "four")
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="grown", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}]
    )
    settled(cloud, "grown", "grown-three")
    sagemaker.update_endpoint(EndpointName="grown", EndpointConfigName="grown-four")  # not retained
    assert settled(cloud, "grown", "grown-four")["DesiredInstanceCount"] == 1
    sagemaker.delete_endpoint(EndpointName="grown")


def test_removing_or_retyping_an_autoscaled_variant_is_refused_until_deregistered(cloud: LocalCloudProcess) -> None:
    sagemaker, scaling = cloud.client("sagemaker"), cloud.client("application-autoscaling")
    deploy_echo(cloud, "held", greeting="one")
    settled(cloud, "held", "held")
    scaling.register_scalable_target(**target("held", MinCapacity=1, MaxCapacity=2))
    new_config(cloud, "held-bigger", "one", kind="ml.c5.xlarge")
    new_config(cloud, "held-renamed", "one", variant="Blue")

    for config in ("held-bigger", "held-renamed"):
        message = refused(
            lambda config=config: sagemaker.update_endpoint(EndpointName="held", EndpointConfigName=config)
        )
        assert message == REFUSAL
        retained = lambda config=config: sagemaker.update_endpoint(  # noqa: E731 - retaining changes nothing here
            EndpointName="held", EndpointConfigName=config, RetainAllVariantProperties=True
        )
        assert refused(retained) == REFUSAL
    assert sagemaker.describe_endpoint(EndpointName="held")["EndpointStatus"] == "InService"

    scaling.deregister_scalable_target(**target("held"))
    sagemaker.update_endpoint(EndpointName="held", EndpointConfigName="held-bigger")
    settled(cloud, "held", "held-bigger")
    sagemaker.delete_endpoint(EndpointName="held")
