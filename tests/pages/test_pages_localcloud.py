"""Both pages against a real localcloud (fixtures `localcloud`/`aws_env` in tests/conftest.py)."""

import re

import pytest

from tests.pages.conftest import DOG_PHOTO, NOT_A_DOG, dashboard


@pytest.fixture
def predict_page(aws_env):
    at = dashboard().run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception
    return at


def test_overview_shows_localcloud_and_what_is_deployed(aws_env) -> None:
    at = dashboard().run()
    assert not at.exception
    assert not at.warning
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Cloud"], metrics["localcloud health"], metrics["Region"]) == ("localcloud", "ok", "us-east-1")
    endpoints, functions = at.table[0].value, at.table[1].value
    row = endpoints.loc["dog-breed-classifier"]
    assert (row["status"], row["instances"]) == ("InService", 1)
    assert "dog-breed-predict" in list(functions.index)


@pytest.mark.parametrize("path", ["Lambda function", "SageMaker endpoint"])
def test_uploaded_dog_photo_gets_its_breed(predict_page, aws_env, path: str) -> None:
    at = predict_page
    at.radio(key="predict_path").set_value(path).run()
    at.file_uploader[0].set_value(("afghan.jpg", DOG_PHOTO.read_bytes(), "image/jpeg")).run()
    assert not at.exception
    assert not at.error
    assert at.success[0].value.startswith("Dog: Afghan hound (")
    assert len(at.get("vega_lite_chart")) == 1  # the top-5 bar chart
    latency = next(c.value for c in at.caption if c.value.startswith("round trip"))
    assert re.match(r"round trip [\d.]+ m?s · (function|model) [\d.]+ m?s", latency)
    # A rerun shows the remembered answer: same latency figures, no second call.
    invocations = lambda_invocations(aws_env)
    assert invocations >= (path == "Lambda function")
    at.run()
    assert next(c.value for c in at.caption if c.value.startswith("round trip")) == latency
    assert lambda_invocations(aws_env) == invocations


def lambda_invocations(cloud) -> int:
    """How many times localcloud ran the default function, read from its REPORT lines."""
    log = cloud.data_dir / "logs" / "lambda" / "dog-breed-predict.log"
    return log.read_text().count("REPORT RequestId") if log.exists() else 0


def test_not_a_dog_and_a_bad_file_side_by_side(predict_page) -> None:
    at = predict_page
    at.file_uploader[0].set_value(
        [("rocket.jpg", NOT_A_DOG.read_bytes(), "image/jpeg"), ("notes.png", b"not a photo", "image/png")]
    ).run()
    assert not at.exception
    assert at.warning[0].value.startswith("Not a dog (dog score ")
    assert "not an image" in at.error[0].value
