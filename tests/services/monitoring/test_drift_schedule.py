"""Which hour the drift schedule publishes, and how often it runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.monitoring.drift_runner import DEFAULT_EVERY_S, EVERY_ENV, schedule_every_s
from services.monitoring.drift import HourDrift
from services.monitoring.drift_schedule import newest_fresh

NOW = datetime(2026, 12, 7, 0, 10, tzinfo=UTC)


def test_the_newest_scored_hour_is_published_while_it_is_this_hour_or_the_last():
    this_hour = HourDrift("2026-12-07T00", 25, 0.9, 0.8)
    last_hour = HourDrift("2026-12-06T23", 40, 0.7, 0.6)
    older = HourDrift("2026-12-06T22", 40, 0.7, 0.6)
    unscored = HourDrift("2026-12-07T00", 3, None)
    assert newest_fresh([last_hour, this_hour], NOW) is this_hour
    assert newest_fresh([older, last_hour, unscored], NOW) is last_hour  # yesterday's hour, just past midnight
    assert newest_fresh([older], NOW) is None
    assert newest_fresh([unscored], NOW) is None and newest_fresh([], NOW) is None


@pytest.mark.parametrize(
    ("value", "every"), [(None, DEFAULT_EVERY_S), ("60", 60.0), ("0", 0.0), ("-5", 0.0), ("soon", DEFAULT_EVERY_S)]
)
def test_the_schedule_period_comes_from_the_environment(monkeypatch, value, every):
    if value is None:
        monkeypatch.delenv(EVERY_ENV, raising=False)
    else:
        monkeypatch.setenv(EVERY_ENV, value)
    assert schedule_every_s() == every
