"""The drift score: Jensen–Shannon distance properties (Hypothesis) and the hourly scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.monitoring.drift import MIN_REQUESTS, hourly_drift, js_distance, noise_floor

BREEDS = st.sampled_from(["Affenpinscher", "Beagle", "Boxer", "Collie", "Dalmatian", "Keeshond"])
COUNTS = st.dictionaries(BREEDS, st.integers(min_value=1, max_value=10_000), min_size=1)


@settings(deadline=None)  # a loaded machine must not fail a property
@given(COUNTS, COUNTS)
def test_the_distance_is_symmetric_and_between_zero_and_one(p, q):
    forward, backward = js_distance(p, q), js_distance(q, p)
    assert forward == pytest.approx(backward, abs=1e-12)
    assert 0.0 <= forward <= 1.0


@settings(deadline=None)  # a loaded machine must not fail a property
@given(COUNTS, st.integers(min_value=1, max_value=50))
def test_identical_distributions_are_zero_apart_whatever_their_totals(p, scale):
    assert js_distance(p, {k: v * scale for k, v in p.items()}) == pytest.approx(0.0, abs=1e-6)


@settings(deadline=None)  # a loaded machine must not fail a property
@given(COUNTS, COUNTS, COUNTS)
def test_the_distance_obeys_the_triangle_inequality(p, q, r):
    assert js_distance(p, r) <= js_distance(p, q) + js_distance(q, r) + 1e-9


def test_distributions_with_no_breed_in_common_are_one_apart():
    assert js_distance({"Beagle": 5}, {"Boxer": 3, "Collie": 1}) == pytest.approx(1.0)


def test_all_answers_on_one_of_three_equally_trained_breeds():
    # m = (2/3, 1/6, 1/6): KL(p‖m) = log2(3/2), KL(q‖m) = 1/3; the distance is the root of their mean
    expected = math.sqrt((math.log2(1.5) + 1 / 3) / 2)
    assert js_distance({"Beagle": 40}, {"Beagle": 10, "Boxer": 10, "Collie": 10}) == pytest.approx(expected)


@pytest.mark.parametrize("bad", [{}, {"Beagle": 0}, {"Beagle": -1, "Boxer": 2}, {"Beagle": math.inf}])
def test_an_empty_or_negative_side_is_refused(bad):
    with pytest.raises(ValueError, match="non-negative"):
        js_distance(bad, {"Beagle": 1})


def test_hours_with_too_few_answers_get_no_score():
    baseline = {"Beagle": 10, "Boxer": 10}
    hours = {
        "2026-12-07T09": {"Beagle": MIN_REQUESTS - 1},
        "2026-12-07T08": {"Beagle": MIN_REQUESTS, "Boxer": MIN_REQUESTS},
    }
    scored = hourly_drift(hours, baseline)
    assert [(d.hour, d.answers) for d in scored] == [("2026-12-07T08", 2 * MIN_REQUESTS), ("2026-12-07T09", 19)]
    assert scored[0].distance == pytest.approx(0.0, abs=1e-9) and scored[1].distance is None


def test_the_noise_floor_falls_as_an_hour_holds_more_answers_and_bounds_chance_hours():
    baseline = {f"breed-{i:03d}": 1 + i % 5 for i in range(111)}  # 111 breeds, as the sample's training split
    floors = [noise_floor(baseline, n) for n in (20, 100, 2000)]
    assert floors[0] > 0.7 > floors[1] > floors[2]  # 20 answers look far off by chance alone
    assert noise_floor(baseline, 20) == floors[0]  # seeded: a rerun draws the same floor
    # Hours drawn straight from the baseline stay under the floor about 95 % of the time.
    rng = np.random.default_rng(1)
    classes = sorted(baseline)
    shares = np.array([baseline[c] for c in classes], dtype=float)
    shares /= shares.sum()
    hours = rng.multinomial(100, shares, size=200)
    under = sum(js_distance(dict(zip(classes, h.tolist(), strict=True)), baseline) <= floors[1] for h in hours)
    assert under >= 180
    with pytest.raises(ValueError):
        noise_floor(baseline, 0)


def test_a_quiet_hour_drawn_from_the_training_set_does_not_alarm_and_a_drifted_one_does():
    """20 answers over 111 breeds score about 0.8 by chance alone: above the raw 0.5 an operator might pick, yet
    the alarm's score (the distance above the noise floor) stays under the default 0.1; all 20 on one breed pass it."""
    baseline = {f"breed-{i:03d}": 1 + i % 5 for i in range(111)}
    classes = sorted(baseline)
    shares = np.array([baseline[c] for c in classes], dtype=float)
    draws = np.random.default_rng(7).multinomial(20, shares / shares.sum(), size=100)
    hours = {
        f"2026-12-07T{i // 10:02d}{i % 10}": dict(zip(classes, d.tolist(), strict=True)) for i, d in enumerate(draws)
    }
    scored = hourly_drift(hours, baseline)
    assert all(d.distance > 0.5 for d in scored)  # the raw distance would alarm on every chance hour
    assert sum(d.beyond_chance > 0.1 for d in scored) == 0
    assert sum(d.beyond_chance > 0 for d in scored) <= 10  # about 5 % of chance hours are just above the floor
    (drifted,) = hourly_drift({"2026-12-07T12": {"breed-000": 20}}, baseline)
    assert drifted.beyond_chance > 0.1
