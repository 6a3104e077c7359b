"""CloudWatch's fixed metric retention, as AWS documents it for GetMetricStatistics: data points with a period
under 60 s are kept for 3 hours, 60-second points for 15 days, 300-second points for 63 days and 3600-second
points for 455 days.

Points published at a finer period are aggregated for long-term storage: past 3 hours the points of each minute
become one statistic set (count, sum, minimum, maximum), past 15 days those of each 5 minutes, past 63 days those
of each hour, and past 455 days they are dropped. However long localcloud runs, a metric holds a bounded number of
rows. A sweep does this once a minute; every age and period is AWS's on localcloud's clock (core/clock.py), so a
shortened clock ages data in proportion.

Reads keep AWS's rule for old data (`readable`): a query whose StartTime lies past 3 hours, 15 days or 63 days must
ask for a period that is a multiple of 60, 300 or 3600 s, else it gets no data points for it.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from localcloud.core.clock import Clock
from localcloud.core.log import log
from localcloud.core.state import Store


@dataclass(frozen=True)
class Tier:
    """Past `age_s`, data is kept only at `resolution_s` (both AWS seconds)."""

    age_s: float
    resolution_s: float


TIERS = (Tier(3 * 3600, 60), Tier(15 * 86400, 300), Tier(63 * 86400, 3600))
EXPIRY_S = 455 * 86400  # past this age, data is gone
SWEEP_EVERY_S = 60.0  # AWS seconds between sweeps


class MetricRetention:
    """Ages the metric store: aggregates each tier's newly aged data, drops the expired."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock
        # Each sweep looks only at data that has aged into a tier since the last one (and, after a restart, all).
        self._rolled_up_to = [0.0] * len(TIERS)
        self._lock = threading.Lock()
        self._sweeping = threading.Lock()  # one sweep at a time: a sweep that returns has finished its work
        store.query("CREATE INDEX IF NOT EXISTS metric_data_by_time ON metric_data (timestamp)")

    def start(self) -> None:
        """Sweep in the background for as long as localcloud runs."""
        threading.Thread(target=self._sweep_forever, name="metric-retention", daemon=True).start()

    def noted(self, earliest: float) -> None:
        """Data was just put with timestamps from `earliest` (it may already be old enough for a tier)."""
        with self._lock:
            self._rolled_up_to = [min(done, earliest) for done in self._rolled_up_to]

    def sweep(self, now: float) -> None:
        """Aggregate what has aged into each tier since the last sweep, then drop what has expired."""
        with self._sweeping:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for index, tier in enumerate(TIERS):
            length = self.clock.seconds(tier.resolution_s)
            end = math.floor((now - self.clock.seconds(tier.age_s)) / length) * length
            with self._lock:
                start = math.floor(self._rolled_up_to[index] / length) * length
                self._rolled_up_to[index] = max(self._rolled_up_to[index], end)
            if end > start:
                try:
                    self._aggregate(start, end, length)
                except BaseException:
                    self.noted(start)  # the next sweep tries this range again
                    raise
        self.store.query("DELETE FROM metric_data WHERE timestamp < ?", (now - self.clock.seconds(EXPIRY_S),))

    def _aggregate(self, start: float, end: float, length: float) -> None:
        """Replace the points in [start, end) by one statistic set per metric, unit and `length`-second bucket."""
        with self.store.transaction() as db:
            sets = db.execute(
                "SELECT namespace, name, dimensions, CAST(timestamp / ? AS INTEGER) * ?, unit, sum(sample_count), "
                "sum(total), min(minimum), max(maximum) FROM metric_data WHERE timestamp >= ? AND timestamp < ? "
                "GROUP BY namespace, name, dimensions, 4, unit",
                (length, length, start, end),
            ).fetchall()
            db.execute("DELETE FROM metric_data WHERE timestamp >= ? AND timestamp < ?", (start, end))
            db.executemany("INSERT INTO metric_data VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", sets)

    def readable(self, start: float, period: float, now: float) -> bool:
        """Whether a query from `start` may use `period` (seconds, as the API buckets them): past a tier's age,
        only a multiple of the resolution kept there returns data, as on AWS."""
        kept = None
        for tier in TIERS:
            if now - start > self.clock.seconds(tier.age_s):
                kept = self.clock.seconds(tier.resolution_s)
        if kept is None:
            return True
        ratio = period / kept
        return ratio >= 1 and math.isclose(ratio, round(ratio))

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(max(0.05, self.clock.seconds(SWEEP_EVERY_S)))
            try:
                self.sweep(time.time())
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried at the next one
                log(f"metric retention sweep: {type(exc).__name__}: {exc}")
