"""How a heat map reads answers (the top 5 only) and prices its calls: pure functions, no cloud."""

import pytest

from services.core.errors import ServiceError
from services.core.pricing import lambda_invocations_cost
from services.serving.explanation import ModelIdentity, cost_of, score_of
from services.serving.prediction import BreedScore, Prediction


def answer(*scores: tuple[str, float], model_ms: float | None = 12.3, via: str = "endpoint") -> Prediction:
    breeds = [BreedScore(label, score) for label, score in scores]
    return Prediction(breeds, True, 0.9, "m", 20.0, model_ms, via, "t", None)


def test_a_listed_breed_gives_its_score_and_an_unlisted_one_the_lowest_listed_as_a_bound() -> None:
    top = answer(("keeshond", 0.6), ("chow", 0.2), ("Pomeranian", 0.05))
    assert score_of("chow", top) == (0.2, False)
    assert score_of("Samoyed", top) == (0.05, True)
    assert score_of("Samoyed", answer()) == (0.0, True)


def test_lambda_prices_requests_and_billed_milliseconds() -> None:
    assert lambda_invocations_cost(1_000_000, 0, 1024) == pytest.approx(0.20)
    assert lambda_invocations_cost(0, 1000, 1024) == pytest.approx(0.0000166667)
    assert lambda_invocations_cost(0, 1000, 512, "arm64") == pytest.approx(0.0000133334 / 2)
    with pytest.raises(ServiceError):
        lambda_invocations_cost(-1, 0, 128)


def test_a_functions_calls_are_billed_per_started_millisecond() -> None:
    model = ModelIdentity("lambda", "f", "r", memory_mb=1024, architecture="x86_64")
    cost = cost_of(model, [answer(model_ms=10.2, via="lambda")] * 2, calls=2, wall_s=0.5, sent_bytes=10, workers=4)
    assert cost.usd == pytest.approx(2 * 0.2 / 1e6 + 0.022 * 0.0000166667)  # 11 ms + 11 ms
    assert cost.basis.startswith("Lambda: 2 requests and 0.02 s billed at 1024 MB")


def test_an_endpoint_is_priced_by_its_instances_for_the_time_taken_or_not_at_all() -> None:
    model = ModelIdentity("endpoint", "e", "c", instance_type="ml.m5.large", instance_count=2)
    cost = cost_of(model, [answer()], calls=50, wall_s=36.0, sent_bytes=10, workers=4)
    assert cost.usd == pytest.approx(0.115 * 2 * 36 / 3600)
    unknown = ModelIdentity("endpoint", "e", None)  # not allowed to describe it, or serverless
    assert cost_of(unknown, [answer()], calls=50, wall_s=1.0, sent_bytes=10, workers=4).usd is None
    no_report = ModelIdentity("lambda", "f", None, memory_mb=512)
    assert cost_of(no_report, [answer(model_ms=None)], calls=1, wall_s=1, sent_bytes=1, workers=1).usd is None
