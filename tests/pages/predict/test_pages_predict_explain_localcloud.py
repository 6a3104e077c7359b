"""Predict's "Why this breed?" against a real localcloud: the heat map, its cost, its memory, its failures."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from tests.localcloud.conftest import function_zip
from tests.pages.conftest import DOG_PHOTO, NOT_A_DOG, dashboard

ROOT = Path(__file__).resolve().parents[3]
COST = (
    r"50 calls \(1 reference \+ 49 masked copies, 4 at a time\) · [\d.]+ m?s · [\d.]+ [KM]B sent · "
    r"notional \$[\d.]+: "
)


@pytest.fixture
def predict_page(aws_env):
    at = dashboard().run()
    at.switch_page("app_pages/predict.py").run()
    assert not at.exception
    return at


def charts(at) -> dict[str, list[str]]:
    """Each chart's trace types, by chart key."""
    return {
        chart.proto.id: [trace["type"] for trace in json.loads(chart.proto.spec)["data"]]
        for chart in at.get("plotly_chart")
    }


def heat_chart(at) -> dict:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    (spec,) = [spec for spec in specs if "heatmap" in [trace["type"] for trace in spec["data"]]]
    return spec


def invocations(cloud, function: str) -> int:
    log = cloud.data_dir / "logs" / "lambda" / f"{function}.log"
    return log.read_text().count("REPORT RequestId") if log.exists() else 0


def test_one_click_draws_the_map_and_a_second_is_remembered(predict_page, aws_env) -> None:
    at = predict_page
    at.file_uploader[0].set_value(("afghan.jpg", DOG_PHOTO.read_bytes(), "image/jpeg")).run()
    assert list(charts(at).values()) == [["bar"]]  # the breeds only: no map before the click
    before = invocations(aws_env, "dog-breed-predict")
    at.button(key="predict_explain_0").click().run()
    assert not at.exception and not at.error
    assert invocations(aws_env, "dog-breed-predict") == before + 50
    spec = heat_chart(at)
    assert [trace["type"] for trace in spec["data"]] == ["image", "heatmap"]
    image, heat = spec["data"]
    assert image["source"].startswith("data:image/jpeg;base64,")
    assert len(heat["z"]) == 8 and len(heat["x"]) == 9 and heat["x"][-1] == 220 and heat["y"][-1] == 147
    assert spec["layout"]["yaxis"]["scaleanchor"] == "x"  # the photo keeps its aspect
    assert "colorbar" in heat
    (looked,) = [m.value for m in at.markdown if m.value.startswith("**Where the model looked for Afghan Hound**")]
    assert "on the map's unmasked copy" in looked and "differ a little from the score above" in looked, looked
    (cost,) = [c.value for c in at.caption if "calls (1 reference" in c.value]
    assert re.match(COST + r"Lambda: 50 requests and [\d.]+ s billed at 512 MB", cost), cost

    # Any rerun (here: away to the endpoint and back) shows the same map from memory, calling nothing.
    at.radio(key="predict_path").set_value("SageMaker endpoint").run()
    at.radio(key="predict_path").set_value("Lambda function").run()
    assert invocations(aws_env, "dog-breed-predict") == before + 50
    (again,) = [c.value for c in at.caption if "calls (1 reference" in c.value]
    assert again.startswith("Remembered from an earlier click (50 calls")
    assert heat_chart(at)["data"][1]["z"] == heat["z"]


def test_a_not_a_dog_gets_the_map_of_its_top_class_with_a_note(predict_page) -> None:
    at = predict_page
    at.radio(key="predict_path").set_value("SageMaker endpoint").run()
    at.file_uploader[0].set_value(("rocket.jpg", NOT_A_DOG.read_bytes(), "image/jpeg")).run()
    assert at.warning[0].value.startswith("Not a dog")
    at.button(key="predict_explain_0").click().run()
    assert not at.exception and not at.error
    assert any("not a dog; the map shows where it looked for its top breed" in i.value for i in at.info)
    (cost,) = [c.value for c in at.caption if "calls (1 reference" in c.value]
    assert re.match(COST + r"endpoint: 1 × ml.m5.large for [\d.]+ s at \$0.115/h", cost), cost


@pytest.fixture
def own_function(aws_env):
    """A function of its own running the real Lambda handler, so throttling it leaves the default alone."""
    lambda_ = aws_env.client("lambda")
    name = f"explain-page-{time.monotonic_ns()}"
    lambda_.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=lambda_.get_function_configuration(FunctionName="dog-breed-predict")["Role"],
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip((ROOT / "classifier" / "serving" / "lambda_function.py").read_text())},
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {"ENDPOINT_NAME": "dog-breed-classifier"}},
    )
    yield name
    lambda_.delete_function(FunctionName=name)


def classified_on(at, function: str):
    at.selectbox(key="predict_target_lambda").set_value(function).run()
    at.file_uploader[0].set_value(("afghan.jpg", DOG_PHOTO.read_bytes(), "image/jpeg")).run()
    assert at.success[0].value.startswith("Dog: Afghan Hound")
    return at


def test_a_function_that_throttles_before_the_map_says_so(own_function, predict_page, aws_env) -> None:
    at = classified_on(predict_page, own_function)
    aws_env.client("lambda").put_function_concurrency(FunctionName=own_function, ReservedConcurrentExecutions=0)
    at.button(key="predict_explain_0").click().run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("Could not draw where the model looked: ") and "throttled" in error, error
    assert list(charts(at).values()) == [["bar"]]


def test_a_function_throttled_mid_way_shows_the_partial_map_as_partial(own_function, predict_page, aws_env) -> None:
    """Throttled (reserved concurrency 0) once ten masked copies have run, as an operator might do."""
    at = classified_on(predict_page, own_function)
    start = invocations(aws_env, own_function)
    lambda_ = aws_env.client("lambda")

    def throttle_after_ten() -> None:
        deadline = time.monotonic() + 60
        while invocations(aws_env, own_function) < start + 11 and time.monotonic() < deadline:
            time.sleep(0.01)
        lambda_.put_function_concurrency(FunctionName=own_function, ReservedConcurrentExecutions=0)

    watcher = threading.Thread(target=throttle_after_ten)
    watcher.start()
    at.button(key="predict_explain_0").click().run()
    watcher.join()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert re.match(r"The heat map is incomplete: \d+ of 49 masked copies answered, then the target failed: ", error)
    assert not any(m.value.startswith("**Where the model looked") for m in at.markdown)  # not shown as the map
    (partial,) = [e.label for e in at.expander if e.label.startswith("Partial map")]
    assert partial.endswith("not the whole picture")
    # A broken map is not remembered: once the function takes calls again, a click draws the whole map.
    lambda_.delete_function_concurrency(FunctionName=own_function)
    at.button(key="predict_explain_0").click().run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("**Where the model looked for Afghan Hound**") for m in at.markdown)


def test_a_guest_gets_the_map_signing_as_the_viewer_role(aws_env, tmp_path, monkeypatch) -> None:
    """Demo visitors too: the viewer role's invoke and read-only calls are all a map needs."""
    monkeypatch.setenv("DASHBOARD_AUTH", "users")
    monkeypatch.setenv("DASHBOARD_USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.setenv("DASHBOARD_VIEWER_ROLE", "apptest-viewer")
    at = dashboard().run()
    assert any("guest" in c.value for c in at.sidebar.caption)
    at.switch_page("app_pages/predict.py").run()
    at.radio(key="predict_path").set_value("SageMaker endpoint").run()
    at.file_uploader[0].set_value(("afghan.jpg", DOG_PHOTO.read_bytes(), "image/jpeg")).run()
    at.button(key="predict_explain_0").click().run()
    assert not at.exception and not at.error and not at.warning
    assert list(charts(at).values()) == [["bar"], ["image", "heatmap"]]
    (cost,) = [c.value for c in at.caption if "calls (1 reference" in c.value]
    assert re.match(COST + r"endpoint: 1 × ml.m5.large", cost), cost  # the viewer may describe the endpoint
