"""Where the model looked, against the real classifier served by a real localcloud (real boto3, real photos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.core.clients import CloudSettings
from services.serving.explanation import ExplanationService
from services.serving.occlusion import cell_edges
from tests.localcloud.conftest import function_zip

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT, FUNCTION = "dog-breed-classifier", "dog-breed-predict"


@pytest.fixture
def service(localcloud) -> ExplanationService:
    settings = CloudSettings(endpoint_url=localcloud.endpoint_url, region="us-east-1", profile=None)
    return ExplanationService(settings=settings, boto3_session=localcloud.session())


@pytest.fixture
def afghan(datasets: Path) -> bytes:
    """The dog stands in the middle of a field; hand-marked: its body and head lie in x 10–145, y 15–120 of
    the 220 × 147 photo."""
    return (datasets / "dogs-wiki-133" / "test" / "002.Afghan_hound" / "afghan_hound_6.jpg").read_bytes()


AFGHAN_BOX = (10, 15, 145, 120)


def test_a_dog_photos_map_through_the_endpoint(service, afghan) -> None:
    seen: list[tuple[int, int]] = []
    model = service.identify("endpoint", ENDPOINT)
    assert (model.instance_type, model.instance_count) == ("ml.m5.large", 1) and model.revision
    explanation = service.explain(
        afghan, via="endpoint", target=ENDPOINT, model=model, progress=lambda *p: seen.append(p)
    )

    assert explanation.complete and explanation.error is None
    assert (explanation.answered, explanation.total, explanation.label) == (49, 49, "Afghan_hound")
    assert (explanation.width, explanation.height) == (220, 147)  # small photos are sent as they are
    assert explanation.heat.shape == (8, 8) and np.isfinite(explanation.heat).all()
    assert np.all(np.abs(explanation.heat) <= 1) and 0 < explanation.base_score <= 1
    assert seen[-1] == (49, 49) and [done for done, _ in seen] == sorted(done for done, _ in seen)
    # The loose check: the hottest cell lies on the dog, not on the field or the trees.
    row, col = np.unravel_index(np.argmax(explanation.heat), explanation.heat.shape)
    xs, ys = cell_edges(220), cell_edges(147)
    left, top, right, bottom = AFGHAN_BOX
    assert left <= xs[col] and xs[col + 1] <= right and top <= ys[row] and ys[row + 1] <= bottom
    cost = explanation.cost
    assert (cost.calls, cost.workers) == (50, 4) and cost.wall_s > 0 and cost.sent_bytes > 49 * 1000
    assert cost.usd is not None and cost.usd == pytest.approx(0.115 * cost.wall_s / 3600)


def test_the_same_map_through_the_lambda_function_with_its_price(service, dog_photo) -> None:
    model = service.identify("lambda", FUNCTION)
    assert model.memory_mb and ENDPOINT in (model.revision or "")
    explanation = service.explain(dog_photo.read_bytes(), via="lambda", target=FUNCTION, model=model)
    assert explanation.complete and explanation.label == "keeshond" and explanation.is_dog
    cost = explanation.cost
    assert cost.calls == 50 and cost.usd is not None and cost.usd > 50 * 0.2 / 1_000_000
    assert "Lambda: 50 requests" in cost.basis


def test_a_not_a_dog_still_gets_a_map_of_its_top_class(service, datasets) -> None:
    cup = (datasets / "negatives" / "skimage_coffee_cup.png").read_bytes()
    explanation = service.explain(cup, via="endpoint", target=ENDPOINT)
    assert explanation.complete and explanation.is_dog is False
    assert explanation.heat.shape == (8, 8) and np.isfinite(explanation.heat).all()


def test_a_function_throttled_mid_way_gives_a_partial_map_that_says_so(localcloud, service, dog_photo) -> None:
    """Reserved concurrency 0 set while the masked copies are in flight: every later call is throttled."""
    lambda_ = localcloud.client("lambda")
    name = "explain-throttled"
    role = lambda_.get_function_configuration(FunctionName=FUNCTION)["Role"]
    lambda_.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip((ROOT / "classifier" / "serving" / "lambda_function.py").read_text())},
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {"ENDPOINT_NAME": ENDPOINT}},
    )
    try:

        def throttle_after_ten(done: int, total: int) -> None:
            if done >= 10:
                lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)

        explanation = service.explain(dog_photo.read_bytes(), via="lambda", target=name, progress=throttle_after_ten)
    finally:
        lambda_.delete_function(FunctionName=name)
    assert not explanation.complete
    assert 10 <= explanation.answered < explanation.total == 49
    assert "TooManyRequestsException" in explanation.error or "throttl" in explanation.error.lower()
    assert explanation.cost.calls < 50  # the copies not yet sent never were
