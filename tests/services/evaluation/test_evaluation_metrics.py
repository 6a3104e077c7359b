"""Properties of the evaluation's statistics: intervals hold their estimate, calibration error is a proportion,
McNemar does not care which model is called A, the confusion ordering is a permutation that keeps the counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.evaluation.breed_names import canonical, display, nameable, resolve
from services.evaluation.comparison import compare, mcnemar
from services.evaluation.confusion import cluster_order, confusion, most_confused
from services.evaluation.evaluation_records import EvaluationRecord
from services.evaluation.metrics import calibration, never_right, not_a_dog, per_breed, rate, wilson
from services.evaluation.model_choices import ModelChoice
from services.evaluation.photo_results import PhotoResult, read_output

BREEDS = ["affenpinscher", "beagle", "boxer", "briard", "collie", "dalmatian"]


@st.composite
def photo_results(draw: st.DrawFn, min_size: int = 1) -> list[PhotoResult]:
    rows = draw(st.lists(st.tuples(st.sampled_from(BREEDS), st.permutations(BREEDS)), min_size=min_size, max_size=60))
    results = []
    for i, (truth, ranking) in enumerate(rows):
        scores = sorted(draw(st.lists(st.floats(0, 1), min_size=5, max_size=5)), reverse=True)
        is_dog = draw(st.sampled_from([True, False, None]))
        results.append(PhotoResult(f"{truth}/{i}.jpg", truth, tuple(ranking[:5]), tuple(scores), is_dog))
    return results


@given(st.integers(0, 5000), st.integers(1, 5000))
def test_the_wilson_interval_holds_the_observed_rate(hits: int, total: int) -> None:
    hits = min(hits, total)
    low, high = wilson(hits, total)
    assert 0.0 <= low <= hits / total <= high <= 1.0


def test_the_wilson_interval_matches_a_published_value() -> None:
    # Newcombe (1998), Statistics in Medicine 17: 81/263 → 0.2553 to 0.3662.
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    assert wilson(0, 0) == (0.0, 1.0)


@given(photo_results())
def test_accuracy_lies_within_its_interval_and_top5_is_at_least_top1(results: list[PhotoResult]) -> None:
    top1 = rate(sum(r.correct for r in results), len(results))
    top5 = rate(sum(r.in_top5 for r in results), len(results))
    assert top1.low <= top1.value <= top1.high
    assert top5.value >= top1.value


@given(photo_results(), st.integers(1, 20))
def test_expected_calibration_error_is_a_proportion(results: list[PhotoResult], bins: int) -> None:
    found = calibration(results, bins)
    assert 0.0 <= found.ece <= 1.0
    assert sum(found.counts) == len(results)
    assert len(found.edges) == bins + 1


def test_a_model_always_sure_and_always_wrong_has_an_ece_of_one() -> None:
    wrong = [PhotoResult(f"beagle/{i}.jpg", "beagle", ("boxer",), (1.0,), True) for i in range(10)]
    assert calibration(wrong).ece == 1.0


@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_is_symmetric_and_a_probability(only_a: int, only_b: int) -> None:
    one, other = mcnemar(only_a, only_b), mcnemar(only_b, only_a)
    assert math.isclose(one.p_value, other.p_value)
    assert 0.0 <= one.p_value <= 1.0
    assert one.method == other.method


def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    # 1 against 9 discordant photos: 2 × (C(10,0) + C(10,1)) / 2^10 = 22/1024.
    assert math.isclose(mcnemar(1, 9).p_value, 22 / 1024)
    assert mcnemar(1, 9).significant
    assert not mcnemar(4, 6).significant
    assert mcnemar(0, 0).p_value == 1.0
    # Large counts: χ² = (|40 − 60| − 1)² / 100 = 3.61, p ≈ 0.0574 (not significant at 95 %).
    assert math.isclose(mcnemar(40, 60).p_value, 0.0574, abs_tol=5e-4)


@given(st.lists(st.lists(st.integers(0, 9), min_size=8, max_size=8), min_size=8, max_size=8))
def test_the_cluster_ordering_is_a_permutation(rows: list[list[int]]) -> None:
    counts = np.array(rows)
    order = cluster_order(counts)
    assert sorted(order) == list(range(len(rows)))


@given(photo_results())
def test_the_ordered_matrix_keeps_every_photo_and_the_diagonal(results: list[PhotoResult]) -> None:
    matrix = confusion(results)
    assert matrix.counts.sum() == len(results)
    assert int(np.trace(matrix.counts)) == sum(r.correct for r in results)
    assert all(pair[0] != pair[1] for pair in most_confused(matrix))


def test_confused_breeds_end_up_side_by_side() -> None:
    # Two pairs confused only with each other, in an alphabetical order that separates them.
    counts = np.zeros((4, 4), dtype=int)
    np.fill_diagonal(counts, 5)
    counts[0, 2] = counts[2, 0] = 3
    counts[1, 3] = counts[3, 1] = 2
    order = cluster_order(counts)
    assert abs(order.index(0) - order.index(2)) == 1
    assert abs(order.index(1) - order.index(3)) == 1


@given(photo_results())
def test_per_breed_scores_add_up(results: list[PhotoResult]) -> None:
    scores = per_breed(results)
    assert sum(s.photos for s in scores) == len(results)
    assert sum(s.right for s in scores) == sum(r.correct for r in results)
    for score in scores:
        for value in (score.precision, score.recall, score.f1):
            assert value is None or 0.0 <= value <= 1.0
    assert all(s.right == 0 and s.photos > 0 for s in never_right(scores))
    assert 0 <= not_a_dog(results) <= len(results)


@given(photo_results())
def test_a_model_compared_with_itself_is_noise(results: list[PhotoResult]) -> None:
    same = compare(results, results)
    assert same.verdict == "noise" and not same.wins_a and not same.wins_b
    assert same.a == same.b


def test_names_from_folders_udacity_and_imagenet_meet() -> None:
    assert canonical("001.Affenpinscher") == canonical("affenpinscher") == "affenpinscher"
    assert display("042.Cardigan_welsh_corgi") == "Cardigan Welsh Corgi"  # the form every page uses
    assert resolve("Airedale") == "airedale_terrier"  # ImageNet's name for Udacity's breed
    assert resolve("Blenheim_spaniel", "english_toy_spaniel") == "english_toy_spaniel"  # one class, two breeds
    assert resolve("Cocker_spaniel", "english_cocker_spaniel") == "cocker_spaniel"  # a Udacity breed of its own
    assert "airedale_terrier" in nameable(["Airedale"])


def test_the_serving_codes_answer_is_read_as_the_endpoint_gives_it() -> None:
    body = (
        b'{"predictions": [{"label": "Airedale", "score": 0.8}, {"label": "Irish_terrier", "score": 0.1}],'
        b' "is_dog": true, "dog_score": 0.97, "model": "m", "model_latency_ms": {"total": 4.0}}'
    )
    result = read_output(body, key="002.Airedale_terrier/a.jpg", truth="airedale_terrier")
    assert result.correct and result.confidence == 0.8 and result.is_dog is True
    logits = [[0.0] * 132 + [9.0]]  # the original deployment: 133 raw logits, the last is Yorkshire terrier
    import json

    original = read_output(json.dumps(logits).encode(), key="133.Yorkshire_terrier/y.jpg", truth="yorkshire_terrier")
    assert original.correct and original.is_dog is None


def test_an_evaluation_s_label_puts_the_model_first() -> None:
    """The compare view's half-width selectors cut a long label's end: the model, what a reader picks by, leads."""
    record = EvaluationRecord(
        name="eval-20261207-1830-ab12",
        bucket="sagemaker-us-east-1-000000000000",
        created="2026-12-07T18:30:00Z",
        model_kind="endpoint",
        model_origin="dog-breed-endpoint",
        model_name="dog-breed-model-1",
        model_data_url="s3://sagemaker-us-east-1-000000000000/models/model.tar.gz",
        set_uri="s3://sagemaker-us-east-1-000000000000/datasets/dogs-wiki-133/test/",
        photos=91,
        classes=111,
    )
    assert record.label == ("dog-breed-endpoint (endpoint) on datasets/dogs-wiki-133/test/ · eval-20261207-1830-ab12")


@pytest.mark.parametrize(
    ("kind", "origin", "model_name", "label"),
    [
        ("endpoint", "dog-breed-endpoint", "dog-breed-model-1", "endpoint dog-breed-endpoint (dog-breed-model-1)"),
        ("training job", "dog-breed-20261207", "dog-breed-20261207", "training job dog-breed-20261207"),
        ("model", "dog-breed-model-1", "dog-breed-model-1", "model dog-breed-model-1"),
    ],
)
def test_a_model_choice_names_its_model_only_where_it_says_more(kind, origin, model_name, label) -> None:
    assert ModelChoice(kind, origin, model_name, "s3://b/model.tar.gz").label == label
