"""Both pages against a real localcloud (fixtures `localcloud`/`aws_env` in tests/conftest.py)."""

import io
import json
import re
from datetime import UTC, datetime

import pytest
from PIL import Image

from app.widgets.formatting import per_hour
from services.overview import activity
from services.overview.activity import Activity, Charge
from services.serving.prediction import BreedScore, Prediction, PredictionService
from tests.pages.conftest import DOG_PHOTO, NOT_A_DOG, dashboard


@pytest.fixture
def predict_page(aws_env):
    at = dashboard().run()
    at.switch_page("app_pages/predict.py").run()
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
    assert (row["status"], row["instances"], row["type"]) == ("InService", 1, "ml.m5.large")
    assert "dog-breed-predict" in list(functions.index)
    # One timestamp form in both tables (they differed: a datetime with +00:00, and Lambda's raw string).
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    assert re.fullmatch(stamp, row["created"])
    assert re.fullmatch(stamp, functions.loc["dog-breed-predict"]["last modified"])
    # The endpoint's instance costs money now, and links to its page in this session (other tests may have
    # deployed more endpoints to this localcloud: the total is theirs too).
    links = [(link.proto.page, link.proto.query_string, link.proto.label) for link in at.get("page_link")]
    links = [link for link in links if "/h" in link[2]]  # the cost lines (the endpoints' lineage links also show)
    assert ("predict", "endpoint=dog-breed-classifier") in [(page, query) for page, query, _ in links]
    label = next(label for _, query, label in links if query == "endpoint=dog-breed-classifier")
    assert metrics["By the hour now"] == per_hour(sum(hourly(label) for _, _, label in links))
    assert re.fullmatch(
        rf"Endpoint dog-breed-classifier · InService · 1 × ml.m5.large · \$0.115/h · since {stamp}", label
    )


def test_overview_links_running_jobs_and_machines_to_their_pages(aws_env, monkeypatch) -> None:
    """Running work (stubbed: a real job would compete for the CPU) is listed with its price and a link."""
    started = datetime(2026, 5, 9, 7, 0, tzinfo=UTC)
    running = Activity(
        jobs=[Charge("training job", "dog-breed-1", "InProgress", "ml.m5.xlarge", 2, 0.46, started)],
        machines=[Charge("EC2 machine", "i-0123456789abcdef0", "running", "m5.xlarge", 1, 0.192, started, "dog-ec2")],
        errors=[],
    )
    monkeypatch.setattr(activity, "running_work", lambda settings: running)
    at = dashboard().run()
    assert not at.exception and not at.warning
    links = [(link.proto.page, link.proto.query_string, link.proto.label) for link in at.get("page_link")]
    assert (
        "job",
        "job=dog-breed-1",
        "Training job dog-breed-1 · InProgress · 2 × ml.m5.xlarge · $0.460/h · since 2026-05-09 07:00:00 UTC",
    ) in links
    assert (
        "train",
        "tab=ec2&instance=i-0123456789abcdef0",
        "EC2 machine i-0123456789abcdef0 (dog-ec2) · running · 1 × m5.xlarge · $0.192/h"
        " · since 2026-05-09 07:00:00 UTC",
    ) in links
    # The total is every line's price: these two and the endpoints' instances (however many tests deployed).
    charges = [lab for *_, lab in links if "/h" in lab]  # the cost lines, not the endpoints' lineage links
    assert {m.label: m.value for m in at.metric}["By the hour now"] == per_hour(sum(hourly(lab) for lab in charges))


def hourly(label: str) -> float:
    """The price a cost line states (`… · $0.115/h · …`)."""
    return float(re.search(r"\$([0-9.,]+)/h", label).group(1).replace(",", ""))


@pytest.mark.parametrize("path", ["Lambda function", "SageMaker endpoint"])
def test_uploaded_dog_photo_gets_its_breed(predict_page, aws_env, path: str) -> None:
    at = predict_page
    at.radio(key="predict_path").set_value(path).run()
    at.file_uploader[0].set_value(("afghan.jpg", DOG_PHOTO.read_bytes(), "image/jpeg")).run()
    assert not at.exception
    assert not at.error
    assert at.success[0].value.startswith("Dog: Afghan Hound (")
    ((bars,),) = [json.loads(chart.proto.spec)["data"] for chart in at.get("plotly_chart")]  # the top-5 bar chart
    assert bars["y"][0] == "Afghan Hound" and len(bars["y"]) == 5
    assert all(re.fullmatch(r"[\d.]+%", text) for text in bars["text"])
    latency = figures(at)
    assert re.match(r"round trip [\d.]+ m?s · (function|model) [\d.]+ m?s", latency)
    assert "cached" not in latency


def test_the_same_photo_twice_gets_two_charts(predict_page) -> None:
    """Identical figures need their own keys: Streamlit refuses two charts with the same ID."""
    at = predict_page
    photo = DOG_PHOTO.read_bytes()
    at.file_uploader[0].set_value([("a.jpg", photo, "image/jpeg"), ("b.jpg", photo, "image/jpeg")]).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2


def test_a_gif_is_taken_as_the_message_promises(predict_page) -> None:
    """The uploader's types match what the service accepts ("Send a JPEG, PNG, WebP or GIF")."""
    at = predict_page
    accepted = set(at.file_uploader[0].proto.type)
    assert {".jpg", ".jpeg", ".png", ".webp", ".gif"} <= accepted
    buffer = io.BytesIO()
    Image.open(DOG_PHOTO).save(buffer, format="GIF")
    at.file_uploader[0].set_value(("afghan.gif", buffer.getvalue(), "image/gif")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("Dog: ")
    assert at.image[0].captions == [f"afghan.gif · {len(buffer.getvalue()) / 1000:.1f} KB"]  # as the uploader says


def figures(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("round trip"))


def test_a_remembered_answer_says_so_and_run_again_calls_the_cloud(predict_page, aws_env) -> None:
    at = predict_page
    at.file_uploader[0].set_value(("afghan.jpg", DOG_PHOTO.read_bytes(), "image/jpeg")).run()
    fresh = figures(at)
    invocations = lambda_invocations(aws_env)
    at.radio(key="predict_path").set_value("SageMaker endpoint").run()
    at.radio(key="predict_path").set_value("Lambda function").run()  # back: the remembered answer, no call
    assert lambda_invocations(aws_env) == invocations
    remembered = figures(at)
    cached = r" · cached, measured \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    assert re.search(cached, remembered), remembered
    assert re.sub(cached, "", remembered) == fresh  # the same figures, said to be old ones
    at.button(key="predict_again_0").click().run()
    assert not at.exception
    assert lambda_invocations(aws_env) == invocations + 1
    assert "cached" not in figures(at)


def test_a_cold_start_shows_its_init_duration(predict_page, aws_env) -> None:
    """A configuration change retires the function's environments, so the next call starts one."""
    aws_env.client("lambda").update_function_configuration(
        FunctionName="dog-breed-predict", Description=f"retired by {__name__}"
    )
    at = predict_page
    at.file_uploader[0].set_value(("afghan.jpg", DOG_PHOTO.read_bytes(), "image/jpeg")).run()
    cold = figures(at)
    assert re.search(r"· cold start: init [\d.]+ m?s", cold), cold
    at.button(key="predict_again_0").click().run()
    assert "cold start" not in figures(at)  # the environment is warm now


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
    assert not at.get("plotly_chart")  # a verdict, not a breed chart
    assert [e.label for e in at.expander] == ["Breed scores anyway"]
    assert len(at.table[0].value) == 5


def test_a_cats_breed_scores_show_their_real_small_values(predict_page) -> None:
    """A cat is no dog, so every breed scores low: the scores read as their values, never as 0.0 %."""
    at = predict_page
    cat = NOT_A_DOG.parent / "skimage_cat_chelsea.png"
    at.file_uploader[0].set_value([("cat.png", cat.read_bytes(), "image/png")]).run()
    assert not at.exception
    assert at.warning[0].value.startswith("Not a dog (dog score ")
    scores = list(at.table[0].value["score"])
    assert len(scores) == 5 and all(re.fullmatch(r"(< )?\d+(\.\d+)?%", s) for s in scores), scores
    assert not {"0%", "0.0%"} & set(scores), scores


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:4599/x", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/dog.jpg"]
)
def test_a_refused_url_gets_no_preview(predict_page, url: str) -> None:
    """The cloud refuses to fetch it, so the visitor's browser must not be pointed at it either."""
    at = predict_page
    at.radio(key="predict_path").set_value("SageMaker endpoint").run()
    at.text_input(key="predict_url").input(url).run()
    assert not at.exception
    assert len(at.error) == 1, [e.value for e in at.error]
    # What was refused and why, as text: a URL in backticks is code, never a link.
    assert at.error[0].value.startswith(f"`{url}`: Endpoint 'dog-breed-classifier' refused the request (400): ")
    assert f"Refusing to fetch `{url}`: " in at.error[0].value
    assert "model" not in at.error[0].value
    assert not at.image
    assert f"`{url}`" in [c.value for c in at.caption]


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
    assert at.success[0].value.startswith("Dog: Afghan Hound (")
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
    monkeypatch.setattr("services.core.clients._clients", {})  # clients are cached per settings, not per key
    at = dashboard().run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "the secret access key does not belong to the access key in use" in warnings, warnings
    assert "wrong" not in warnings and aws_env.credentials["AWS_ACCESS_KEY_ID"] not in warnings


def test_an_endpoints_page_shows_its_model_origin_and_breeds(aws_env) -> None:
    at = dashboard().run()
    links = [link for link in at.get("page_link") if "model, job and dataset" in link.proto.label]
    assert links and links[0].proto.page.endswith("endpoints")  # the Overview links each endpoint
    at.query_params["endpoint"] = "dog-breed-classifier"
    at.switch_page("app_pages/endpoints.py").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["model"]) == ["dog-breed-efficientnet-lite0"]
    assert any("ImageNet's 118 dog classes" in m.value for m in at.markdown)
