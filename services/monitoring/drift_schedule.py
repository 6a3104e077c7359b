"""The drift score on a schedule, as a Model Monitor schedule runs each hour: every endpoint with a drift alarm
gets its newest hour's score published whether or not anyone opens the Monitor page, so the alarm (and the
Overview's banner) follows the traffic. The Monitor page publishes the same way when it draws."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.monitoring.baseline import BaselineService
from services.monitoring.capture_setup import CaptureSetup, CaptureSetupService
from services.monitoring.capture_store import CaptureStore
from services.monitoring.drift import HourDrift, hourly_drift
from services.monitoring.drift_alarm import DriftAlarmService


@dataclass(frozen=True)
class ScheduledRun:
    """What one run did for one endpoint: the hour it published (None: nothing fresh to send) or why it could not."""

    endpoint: str
    published: HourDrift | None = None
    problem: str | None = None


def newest_fresh(drift: list[HourDrift], now: datetime) -> HourDrift | None:
    """The newest scored hour when it is this hour or the last: the alarm judges fresh scores, not yesterday's."""
    scored = [d for d in drift if d.distance is not None]
    if not scored:
        return None
    recent = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    newest = scored[-1]
    return newest if datetime.strptime(newest.hour, "%Y-%m-%dT%H").replace(tzinfo=UTC) >= recent else None


class DriftSchedule(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)

    def run_once(self, now: datetime | None = None) -> list[ScheduledRun]:
        """Score and publish the newest fresh hour of every endpoint that has a drift alarm."""
        now = now or datetime.now(UTC)
        alarms = DriftAlarmService(self._settings, boto3_session=self._session).all()
        return [self._run(alarm.endpoint, now) for alarm in alarms]

    def _run(self, endpoint: str, now: datetime) -> ScheduledRun:
        try:
            setup = CaptureSetupService(self._settings, boto3_session=self._session).setup(endpoint)
            if not setup.destination:
                return ScheduledRun(endpoint, problem="the endpoint has no data capture destination")
            baseline, _ = BaselineService(self._settings, boto3_session=self._session).for_endpoint(endpoint)
            if not baseline.found:
                return ScheduledRun(endpoint, problem=baseline.note)
            days = sorted({(now - timedelta(hours=1)).date(), now.date()})  # the last hour may be yesterday's
            breeds: dict[str, dict[str, int]] = {}
            for day in days:
                breeds.update(self._breeds(setup, day))
            newest = newest_fresh(hourly_drift(breeds, baseline.counts), now)
            if newest is None or newest.beyond_chance is None:
                return ScheduledRun(endpoint)
            alarms = DriftAlarmService(self._settings, boto3_session=self._session)
            alarms.publish(endpoint, newest.hour, newest.answers, newest.beyond_chance)
            return ScheduledRun(endpoint, published=newest)
        except ServiceError as exc:
            return ScheduledRun(endpoint, problem=exc.message)

    def _breeds(self, setup: CaptureSetup, day: date) -> dict[str, dict[str, int]]:
        captures = CaptureStore(self._settings, boto3_session=self._session).day(setup, day)
        return {hour: dict(counts) for hour, counts in captures.summary.breeds_per_hour.items()}
