"""The Monitor page's charts: minutes folded into ten-minute bars, shares beside the training set's, drift hours
without a score left out, input size labels."""

from __future__ import annotations

import pytest

from app.monitoring.monitor_charts import breeds_chart, confidence_chart, drift_chart, requests_chart, sizes_chart
from services.monitoring.drift import HourDrift

MINUTES = {
    "2026-12-07T09:01": [3, 2.4, 3],
    "2026-12-07T09:09": [1, 0.2, 1],
    "2026-12-07T09:10": [2, 1.0, 2],
    "unknown": [5, 0.0, 0],  # records without a time are counted, not drawn
}


def test_minutes_are_folded_into_ten_minute_buckets():
    bars = requests_chart(MINUTES).data[0]
    assert [str(x)[:16] for x in bars.x] == ["2026-12-07 09:00", "2026-12-07 09:10"] and list(bars.y) == [4, 2]
    mean = confidence_chart(MINUTES).data[0]
    assert list(mean.y) == pytest.approx([2.6 / 4, 0.5])


def test_breed_shares_stand_beside_the_training_sets():
    figure = breeds_chart({"Beagle": 3, "Boxer": 1}, {"Beagle": 1, "Collie": 1})
    answers, trained = figure.data
    shares = dict(zip(answers.y, answers.x, strict=True))
    assert shares == {"Beagle": 0.75, "Boxer": 0.25, "Collie": 0.0}
    assert dict(zip(trained.y, trained.x, strict=True)) == {"Beagle": 0.5, "Boxer": 0.0, "Collie": 0.5}
    assert len(breeds_chart({f"b{i}": 1 for i in range(50)}, {}).data) == 1  # no training set: answers alone
    assert len(breeds_chart({f"b{i}": 1 for i in range(50)}, {}).data[0].y) == 20


def test_hours_without_a_score_are_left_out_and_the_alarm_level_rides_on_the_noise_floor():
    drift = [HourDrift("2026-12-07T08", 5, None), HourDrift("2026-12-07T09", 40, 0.42, 0.25)]
    distance, floor, alarm = drift_chart(drift, 0.3).data
    assert list(distance.y) == [0.42] and list(floor.y) == [0.25] and list(alarm.y) == [0.55]
    assert len(drift_chart(drift, None).data) == 2  # no alarm yet: no alarm level


def test_input_sizes_read_in_bytes_kilobytes_and_megabytes():
    assert list(sizes_chart({20: 1, 9: 2, 15: 3}).data[0].x) == ["512 B", "32 KB", "1 MB"]
