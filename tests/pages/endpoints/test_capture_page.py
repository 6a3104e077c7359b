"""Data capture on the Endpoints page under AppTest against a real localcloud: the deploy form's option, what it
refuses, the endpoint's capture status, and stopping capture from the page."""

from __future__ import annotations

from tests.pages.conftest import dashboard

MODEL = "dog-breed-efficientnet-lite0"


def by_label(widgets, label: str):
    return next(w for w in widgets if w.label.startswith(label))


def deploy_form():
    at = dashboard()
    at.switch_page("app_pages/endpoints.py").run()
    by_label(at.radio, "Deploy from").set_value("An existing model").run()
    by_label(at.checkbox, "Capture requests and answers").check().run()
    assert not at.exception and not at.error
    return at


def test_deploy_with_capture_sets_the_endpoints_data_capture(fast_env) -> None:
    account = fast_env.client("sts").get_caller_identity()["Account"]
    at = deploy_form()
    destination = by_label(at.text_input, "Capture to")
    assert destination.value == f"s3://sagemaker-us-east-1-{account}/data-capture"  # the project's bucket
    by_label(at.number_input, "Sampling").set_value(50)
    by_label(at.checkbox, "Answers").uncheck()
    by_label(at.text_input, "Endpoint name").set_value("page-capture-ep")
    by_label(at.button, "Deploy").click().run()
    assert not at.exception and not at.error
    sagemaker = fast_env.client("sagemaker")
    try:
        fast_env.wait_endpoint("page-capture-ep")
        described = sagemaker.describe_endpoint(EndpointName="page-capture-ep")
        config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        assert config["DataCaptureConfig"] == {
            "EnableCapture": True,
            "InitialSamplingPercentage": 50,
            "DestinationS3Uri": f"s3://sagemaker-us-east-1-{account}/data-capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        }
        assert described["DataCaptureConfig"]["CaptureStatus"] == "Started"

        # The list and the endpoint's view say so, and its Data capture tab stops it without downtime.
        at = dashboard()
        at.switch_page("app_pages/endpoints.py").run()
        table = at.dataframe[0].value
        assert table[table["endpoint"] == "page-capture-ep"].iloc[0]["data capture"] == "50%"
        assert table[table["endpoint"] == "dog-breed-classifier"].iloc[0]["data capture"] == "off"
        at = dashboard()
        at.query_params["endpoint"] = "page-capture-ep"
        at.switch_page("app_pages/endpoints.py").run()
        assert not at.exception and not at.error
        captions = " ".join(c.value for c in at.caption)
        assert "Data capture started: 50% of requests to s3://" in captions, captions
        by_label(at.button, "Stop data capture").click().run()
        assert not at.exception and not at.error
        assert any("stopping data capture" in s.value for s in at.success)
        fast_env.wait_endpoint("page-capture-ep")
        stopped = sagemaker.describe_endpoint(EndpointName="page-capture-ep")["DataCaptureConfig"]
        assert (stopped["EnableCapture"], stopped["CaptureStatus"]) == (False, "Stopped")
        assert (
            sagemaker.describe_endpoint(EndpointName="page-capture-ep")["ProductionVariants"][0]["CurrentInstanceCount"]
            == 1
        )
    finally:
        sagemaker.delete_endpoint(EndpointName="page-capture-ep")


def test_a_bad_capture_choice_is_refused_and_nothing_is_created(fast_env) -> None:
    at = deploy_form()
    by_label(at.text_input, "Capture to").set_value("my-bucket/captures")
    by_label(at.checkbox, "Requests").uncheck()
    by_label(at.checkbox, "Answers").uncheck()
    by_label(at.text_input, "Endpoint name").set_value("page-bad-capture")
    by_label(at.button, "Deploy").click().run()
    assert not at.exception
    message = at.error[0].value
    assert "'my-bucket/captures' is not an S3 location" in message
    assert "Capture the requests, the answers or both." in message
    assert by_label(at.text_input, "Capture to").value == "my-bucket/captures"  # kept in the form
    names = [e["EndpointName"] for e in fast_env.client("sagemaker").list_endpoints()["Endpoints"]]
    assert "page-bad-capture" not in names
