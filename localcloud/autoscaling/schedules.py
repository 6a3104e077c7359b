"""Scheduled actions run on the wall clock: `at(yyyy-mm-ddThh:mm:ss)` once, `rate(N unit)` every N units from
its StartTime (or creation), `cron(min hour day-of-month month day-of-week year)` at each matching minute, in
the action's Timezone. A run sets the target's min and max (ScalableTargetAction) and moves capacity into
them, as AWS does; ScheduledScalingSuspended holds them.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from localcloud.autoscaling.engine import Scaler
from localcloud.core.log import log
from localcloud.core.protocol import validation
from localcloud.core.state import Store

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES = {name: i for names in (_MONTHS, _DAYS) for i, name in enumerate(names, 1)}
_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))  # AWS cron: day of week 1 = Sunday


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise validation(f"Invalid timezone: {name}") from exc


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if part in ("*", "?"):
            values |= set(range(low, high + 1))
            continue
        match = re.fullmatch(r"(\*|\w+)(?:-(\w+))?(?:/(\d+))?", part)
        if match is None:
            raise ValueError(part)
        first, last, step = match.groups()
        start = low if first == "*" else int(_NAMES.get(first.upper(), first))
        end = (high if first == "*" or step else start) if last is None else int(_NAMES.get(last.upper(), last))
        if not low <= start <= end <= high:
            raise ValueError(part)
        values |= set(range(start, end + 1, int(step or 1)))
    return values


def _cron(expression: str) -> list[set[int]]:
    parts = expression.split()
    if len(parts) != 6:
        raise ValueError(expression)
    return [_field(text, low, high) for text, (low, high) in zip(parts, _FIELDS, strict=True)]


def check_schedule(schedule: str, timezone: str) -> None:
    """A schedule AWS would refuse is refused with its ValidationException."""
    _zone(timezone)
    try:
        _due_times(schedule, timezone, 0.0, 0.0, 0.0)
    except (ValueError, KeyError) as exc:
        raise validation(f"Schedule expression {schedule} is not valid.") from exc


def _due_times(schedule: str, timezone: str, origin: float, after: float, until: float) -> bool:
    """Whether the schedule fires in (after, until]; `origin` is where a rate counts from."""
    kind, _, rest = schedule.partition("(")
    argument = rest.removesuffix(")")
    if not rest.endswith(")"):
        raise ValueError(schedule)
    if kind == "at":
        when = dt.datetime.strptime(argument, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_zone(timezone)).timestamp()
        return after < when <= until
    if kind == "rate":
        number, unit = argument.split()
        interval = int(number) * _UNITS[unit]
        if interval <= 0:
            raise ValueError(schedule)
        return (until - origin) // interval > max(0.0, (after - origin) // interval)
    if kind == "cron":
        fields = _cron(argument)
        minute = (int(after) // 60 + 1) * 60
        while minute <= until:
            t = dt.datetime.fromtimestamp(minute, _zone(timezone))
            values = (t.minute, t.hour, t.day, t.month, t.isoweekday() % 7 + 1, t.year)
            if all(v in f for v, f in zip(values, fields, strict=True)):
                return True
            minute += 60
        return False
    raise ValueError(schedule)


class Schedules:
    """Checks every scheduled action once a second and runs the ones that are due."""

    def __init__(self, store: Store, scaler: Scaler) -> None:
        self.store, self.scaler = store, scaler
        self._checked = time.time()
        threading.Thread(target=self._run_forever, name="scheduled-actions", daemon=True).start()

    def _run_forever(self) -> None:
        while True:
            time.sleep(1.0)
            now = time.time()
            for action in self.store.all("scheduled-action"):
                try:
                    if self.due(action, self._checked, now):
                        self.run(action)
                except Exception as exc:  # noqa: BLE001 - one broken action must not stop the others
                    log(f"scheduled action {action['ScheduledActionName']}: {exc}")
            self._checked = now

    @staticmethod
    def due(action: dict[str, Any], after: float, until: float) -> bool:
        """Whether the action fires in (after, until], inside its StartTime and EndTime."""
        if until < action.get("StartTime", 0) or until > action.get("EndTime", float("inf")):
            return False
        origin = action.get("StartTime", action["CreationTime"])
        return _due_times(action["Schedule"], action.get("Timezone", "UTC"), origin, after, until)

    def run(self, action: dict[str, Any]) -> None:
        target = self.store.get("scalable-target", action["Key"])
        if target is None or (target.get("SuspendedState") or {}).get("ScheduledScalingSuspended"):
            return
        wanted = action.get("ScalableTargetAction") or {}
        target.update({k: wanted[k] for k in ("MinCapacity", "MaxCapacity") if k in wanted})
        target["MaxCapacity"] = max(target["MaxCapacity"], target["MinCapacity"])
        self.store.put("scalable-target", action["Key"], target)
        current = self.scaler.capacity(target)
        desired = min(max(current, target["MinCapacity"]), target["MaxCapacity"])
        if desired != current:
            cause = f"scheduled action name {action['ScheduledActionName']} was triggered"
            self.scaler.set_capacity(target, desired, cause)
