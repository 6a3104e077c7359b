"""The Endpoints page under AppTest against a real localcloud with a one-second metric period."""

from __future__ import annotations

import time

from tests.conftest import DEFAULT_ENDPOINT
from tests.pages.conftest import dashboard

MODEL = "dog-breed-efficientnet-lite0"


def test_the_list_shows_every_variant_with_counts_cost_and_the_short_period(fast_env) -> None:
    at = dashboard()
    at.switch_page("app_pages/endpoints.py").run()
    assert not at.exception and not at.error
    assert any("metric period is 1 s" in i.value for i in at.info)
    table = at.dataframe[0].value
    row = table[table["endpoint"] == DEFAULT_ENDPOINT].iloc[0]
    assert (row["status"], row["current"], row["desired"]) == ("InService", "1", "1")
    assert row["instance type"] and row["cost per hour"].startswith("$")
    links = [link.proto for link in at.get("page_link") if link.proto.label.startswith(DEFAULT_ENDPOINT)]
    assert links and links[0].page.endswith("endpoints")


def test_the_detail_view_shows_lineage_and_live_charts(fast_env) -> None:
    at = dashboard()
    at.query_params["endpoint"] = DEFAULT_ENDPOINT
    at.switch_page("app_pages/endpoints.py").run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["model"]) == ["dog-breed-efficientnet-lite0"]
    assert any("ImageNet's 118 dog classes" in m.value for m in at.markdown)
    assert any("Model and overhead latency" in m.value for m in at.markdown)


def test_an_unknown_endpoint_is_explained(fast_env) -> None:
    at = dashboard()
    at.query_params["endpoint"] = "no-such-endpoint"
    at.switch_page("app_pages/endpoints.py").run()
    assert not at.exception
    assert "no-such-endpoint" in at.error[0].value


def detail(endpoint: str = DEFAULT_ENDPOINT):
    at = dashboard()
    at.query_params["endpoint"] = endpoint
    at.switch_page("app_pages/endpoints.py").run()
    assert not at.exception
    return at


def by_label(widgets, label: str):
    return next(w for w in widgets if w.label.startswith(label))


def test_deleting_the_endpoint_the_function_calls_is_warned(fast_env) -> None:
    at = detail()
    warnings = " ".join(w.value for w in at.warning)
    assert "dog-breed-predict still call this endpoint" in warnings, warnings


def test_bad_scaling_input_is_refused_with_the_reason_and_nothing_registered(fast_env) -> None:
    at = detail()
    by_label(at.number_input, "Minimum instances").set_value(3)
    by_label(at.number_input, "Maximum instances").set_value(2)
    by_label(at.button, "Apply autoscaling").click().run()
    assert "Minimum capacity cannot be greater than maximum capacity" in " ".join(e.value for e in at.error)
    by_label(at.number_input, "Minimum instances").set_value(1)
    by_label(at.number_input, "Maximum instances").set_value(9)
    by_label(at.number_input, "Target value").set_value(0.0)
    by_label(at.button, "Apply autoscaling").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "above the 3 endpoint instances this cloud allows" in errors and "greater than 0" in errors
    scaling = fast_env.client("application-autoscaling")
    resource = f"endpoint/{DEFAULT_ENDPOINT}/variant/AllTraffic"
    assert (
        scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])["ScalableTargets"] == []
    )


def test_a_load_test_above_the_page_limits_is_refused(fast_env) -> None:
    at = detail()
    by_label(at.number_input, "Requests per second").set_value(500.0)
    by_label(at.button, "Start load test").click().run()
    assert "Requests per second must be above 0 and at most 20" in " ".join(e.value for e in at.error)
    assert not any(m.label == "Answered" for m in at.metric)  # nothing started


def test_the_list_adds_up_cost_and_asks_before_tearing_down(fast_env) -> None:
    at = dashboard()
    at.switch_page("app_pages/endpoints.py").run()
    assert any(m.label == "Running now, per hour" and m.value.startswith("$") for m in at.metric)
    by_label(at.button, "Tear down everything").click().run()
    warning = " ".join(w.value for w in at.warning)
    assert f"endpoint `{DEFAULT_ENDPOINT}`" in warning and "Models, functions and training artifacts stay" in warning
    by_label(at.button, "Cancel").click().run()
    assert (
        fast_env.client("sagemaker").describe_endpoint(EndpointName=DEFAULT_ENDPOINT)["EndpointStatus"] == "InService"
    )
    assert not any("This removes" in w.value for w in at.warning)


def test_deploy_an_existing_model_to_a_new_endpoint(fast_env) -> None:
    at = dashboard()
    at.switch_page("app_pages/endpoints.py").run()
    by_label(at.radio, "Deploy from").set_value("An existing model").run()
    assert by_label(at.selectbox, "Model").value == "model dog-breed-efficientnet-lite0"
    by_label(at.text_input, "Endpoint name").set_value("page-deployed-ep")
    by_label(at.button, "Deploy").click().run()
    assert not at.exception and not at.error
    assert any(
        "Endpoint 'page-deployed-ep' created with model 'dog-breed-efficientnet-lite0'" in s.value for s in at.success
    )
    sagemaker = fast_env.client("sagemaker")
    try:
        fast_env.wait_endpoint("page-deployed-ep")
        config = sagemaker.describe_endpoint(EndpointName="page-deployed-ep")["EndpointConfigName"]
        variant = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
        assert variant["ModelName"] == "dog-breed-efficientnet-lite0"  # the model is reused, not copied
    finally:
        sagemaker.delete_endpoint(EndpointName="page-deployed-ep")


def test_a_cloud_that_is_down_is_explained(dead_cloud: str) -> None:
    at = dashboard()
    at.switch_page("app_pages/endpoints.py").run()
    assert not at.exception
    assert "The cloud is down or unreachable" in at.error[0].value
    at.query_params["endpoint"] = DEFAULT_ENDPOINT
    at.switch_page("app_pages/endpoints.py").run()
    assert not at.exception and "The cloud is down or unreachable" in at.error[0].value


def test_point_the_function_at_an_endpoint_from_the_page(fast_env) -> None:
    lambda_client = fast_env.client("lambda")
    environment = lambda_client.get_function_configuration(FunctionName="dog-breed-predict")["Environment"]
    lambda_client.update_function_configuration(
        FunctionName="dog-breed-predict",
        Environment={"Variables": {**environment["Variables"], "ENDPOINT_NAME": "elsewhere"}},
    )
    try:
        at = detail()
        assert any(c.value == "No function calls this endpoint now." for c in at.caption)
        by_label(at.button, "Point 'dog-breed-predict' at 'dog-breed-classifier'").click().run()
        assert any("now calls endpoint 'dog-breed-classifier'" in s.value for s in at.success)
        now = lambda_client.get_function_configuration(FunctionName="dog-breed-predict")["Environment"]
        assert now == environment  # ENDPOINT_NAME is back, the other variables kept
    finally:
        lambda_client.update_function_configuration(FunctionName="dog-breed-predict", Environment=environment)


def wait_serving(sagemaker, name: str, config: str) -> dict:
    """The endpoint's variant once it serves `config` with every instance it wants."""
    deadline = time.monotonic() + 120
    while True:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        variant = (endpoint.get("ProductionVariants") or [{}])[0]
        if (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", config) and variant.get(
            "CurrentInstanceCount"
        ) == variant.get("DesiredInstanceCount"):
            return variant
        assert time.monotonic() < deadline, f"{name} never served {config}: {endpoint}"
        time.sleep(0.2)


def test_a_new_model_on_an_autoscaled_endpoint_keeps_its_instances_and_a_new_type_waits(fast_env) -> None:
    """AWS allows a model-only update of an autoscaled variant; RetainAllVariantProperties keeps the count that
    autoscaling set. Another instance type is refused until autoscaling is removed: the page says so first."""
    sagemaker, scaling = fast_env.client("sagemaker"), fast_env.client("application-autoscaling")
    original = sagemaker.describe_model(ModelName=MODEL)
    sagemaker.create_model(
        ModelName="page-model-b",
        ExecutionRoleArn=original["ExecutionRoleArn"],
        PrimaryContainer=original["PrimaryContainer"],
    )
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{DEFAULT_ENDPOINT}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    sagemaker.update_endpoint_weights_and_capacities(  # as a scale-out would
        EndpointName=DEFAULT_ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    wait_serving(sagemaker, DEFAULT_ENDPOINT, DEFAULT_ENDPOINT)
    created: list[str] = []  # the page's endpoint config
    try:
        at = detail()
        assert any("Autoscaled (1 to 2 instances): a new model is fine" in i.value for i in at.info)
        assert by_label(at.checkbox, "Keep the current instance count (2)").value  # the default when autoscaled
        assert not any(n.label == "Instances" for n in at.number_input)
        by_label(at.selectbox, "Model").set_value("page-model-b")
        by_label(at.button, "Update without downtime").click().run()
        assert not at.error, [e.value for e in at.error]
        done = next(s.value for s in at.success if "keeping its 2 instance(s)" in s.value)
        config = done.split("`")[1]  # the new config (DescribeEndpoint names the old one while Updating)
        created.append(config)
        assert wait_serving(sagemaker, DEFAULT_ENDPOINT, config)["DesiredInstanceCount"] == 2
        served = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
        assert served["ModelName"] == "page-model-b"

        at = detail()
        by_label(at.selectbox, "Instance type").set_value("ml.c5.large").run()
        assert any("refuses to move it from ml.m5.large to ml.c5.large" in w.value for w in at.warning)
        assert by_label(at.button, "Update without downtime").disabled
    finally:
        scaling.deregister_scalable_target(**target)
        sagemaker.update_endpoint(EndpointName=DEFAULT_ENDPOINT, EndpointConfigName=DEFAULT_ENDPOINT)
        wait_serving(sagemaker, DEFAULT_ENDPOINT, DEFAULT_ENDPOINT)
        sagemaker.delete_model(ModelName="page-model-b")
        for config in created:
            sagemaker.delete_endpoint_config(EndpointConfigName=config)


def test_delete_an_endpoint_after_confirming(fast_env) -> None:
    sagemaker = fast_env.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName="page-doomed",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "dog-breed-efficientnet-lite0",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="page-doomed", EndpointConfigName="page-doomed")
    fast_env.wait_endpoint("page-doomed")
    at = detail("page-doomed")
    assert by_label(at.button, "Delete endpoint").disabled  # not before the confirmation
    by_label(at.checkbox, "Also delete its model(s)").uncheck()  # the default endpoint serves it too
    by_label(at.checkbox, "Yes, delete endpoint 'page-doomed'").check().run()
    by_label(at.button, "Delete endpoint").click().run()
    assert any(s.value == "Deleted endpoint page-doomed, config page-doomed." for s in at.success)
    assert "page-doomed" not in [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]


def test_the_scaling_panel_says_why_there_is_no_scale_in_and_keeps_the_target_in_force(fast_env) -> None:
    """Two instances and no traffic: no datapoint, so no scale-in, said in AWS's terms. A load test's suggested
    target is offered, not silently put in the field that shows the policy in force."""
    sagemaker, scaling = fast_env.client("sagemaker"), fast_env.client("application-autoscaling")
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{DEFAULT_ENDPOINT}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    scaling.put_scaling_policy(
        PolicyName="hold",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 1000.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
        **target,
    )
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=DEFAULT_ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    try:
        wait_serving(sagemaker, DEFAULT_ENDPOINT, DEFAULT_ENDPOINT)
        at = dashboard()
        at.query_params["endpoint"] = DEFAULT_ENDPOINT
        at.session_state["suggested_target"] = {DEFAULT_ENDPOINT: 57.0}  # as a finished load test leaves it
        at.switch_page("app_pages/endpoints.py").run()
        assert not at.exception
        notes = " ".join(i.value for i in at.info)
        assert "No scale-in while no requests arrive" in notes and "INSUFFICIENT_DATA" in notes, notes
        assert "suggests a target of 57; the policy in force tracks 1000." in notes
        assert by_label(at.number_input, "Target value").value == 1000.0  # the policy in force, not the suggestion
        assert {m.label: m.value for m in at.metric}["Instances now"] == "2"
        by_label(at.button, "Put 57 in the target field").click().run()
        assert by_label(at.number_input, "Target value").value == 57.0
        policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=target["ResourceId"])
        assert [p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] for p in policies["ScalingPolicies"]] == [
            1000.0
        ]  # filled in, not applied
    finally:
        scaling.deregister_scalable_target(**target)
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=DEFAULT_ENDPOINT,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
        )
        wait_serving(sagemaker, DEFAULT_ENDPOINT, DEFAULT_ENDPOINT)
