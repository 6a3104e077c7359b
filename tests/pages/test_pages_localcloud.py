"""Both pages against a real localcloud (fixtures `localcloud`/`aws_env` in tests/conftest.py)."""

import re

import pytest

from services.prediction import BreedScore, Prediction, PredictionService
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


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:4599/x", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/dog.jpg"]
)
def test_a_refused_url_gets_no_preview(predict_page, url: str) -> None:
    """The cloud refuses to fetch it, so the visitor's browser must not be pointed at it either."""
    at = predict_page
    at.text_input(key="predict_url").input(url).run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith(f"{url}: "), [e.value for e in at.error]
    assert not at.image
    assert url in [c.value for c in at.caption]


def test_a_classified_url_gets_its_preview(predict_page, monkeypatch) -> None:
    """Once the cloud has fetched the URL (stubbed here: no internet in tests) the page shows it."""
    url = "https://example.com/afghan.jpg"

    def answer(self, asked: str, *, via: str, target: str) -> Prediction:
        assert asked == url
        return Prediction([BreedScore("Afghan_hound", 0.9)], True, 0.99, None, 12.0, 3.0, via, target, None)

    monkeypatch.setattr(PredictionService, "predict_url", answer)
    at = predict_page
    at.text_input(key="predict_url").input(url).run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Dog: Afghan hound (")
    assert [(image.value, image.captions) for image in at.image] == [([url], [url])]


def test_sidebar_and_overview_say_which_key_signs_and_never_show_the_secret(aws_env) -> None:
    at = dashboard().run()
    assert not at.exception
    key, secret = aws_env.credentials["AWS_ACCESS_KEY_ID"], aws_env.credentials["AWS_SECRET_ACCESS_KEY"]
    masked = f"{key[:4]}…{key[-4:]}"
    sidebar = [c.value for c in at.sidebar.caption]
    assert any("Signing as arn:aws:iam::000000000000:root" in c and masked in c for c in sidebar), sidebar
    page = [c.value for c in at.main.caption]
    assert any(c.startswith("Signed in as arn:aws:iam::000000000000:root") and masked in c for c in page), page
    everything = " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.metric, *at.warning, *at.error])
    assert secret not in everything and key not in everything


def test_a_wrong_secret_is_explained_without_showing_it(aws_env, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong" + aws_env.credentials["AWS_SECRET_ACCESS_KEY"][5:])
    monkeypatch.setattr("services.clients._clients", {})  # clients are cached per settings, not per key
    at = dashboard().run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "the secret access key does not belong to the access key in use" in warnings, warnings
    assert "wrong" not in warnings and aws_env.credentials["AWS_ACCESS_KEY_ID"] not in warnings
