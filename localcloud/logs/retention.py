"""CloudWatch Logs retention: a log group's retention policy and the expiry of its old events, as AWS does it.

A group without a policy keeps its events forever. With one, an event whose timestamp is older than the
retention is gone: deleted the moment a policy makes it so, by a sweep once a minute after that, and before
any read of the group's events, so a read never returns one and `storedBytes` never counts one (AWS marks
such events for deletion at once and leaves them out of `storedBytes`). Days are AWS's days on localcloud's
clock (core/clock.py): a shortened clock expires events in proportion.
"""

from __future__ import annotations

import threading
import time

from localcloud.core.clock import Clock
from localcloud.core.log import log
from localcloud.core.protocol import AwsError
from localcloud.core.state import Store

# The values PutRetentionPolicy accepts (botocore's `Days` shape documents them; the model has no enum).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731)
RETENTION_DAYS += (1096, 1827, 2192, 2557, 2922, 3288, 3653)  # 3 to 10 years
EVENT_OVERHEAD_BYTES = 26  # what CloudWatch Logs counts per event on top of the message
SWEEP_EVERY_S = 60.0  # AWS seconds between sweeps (AWS itself deletes within 72 hours; localcloud is prompter)
_KIND = "log-retention"  # stored resources: one per group with a policy


def check_days(days: int) -> None:
    """PutRetentionPolicy's rule on retentionInDays, in AWS's words."""
    if days not in RETENTION_DAYS:
        raise AwsError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]",
            400,
        )


class Retention:
    """Every group's retention (kept in the store, mirrored in memory for the read path) and its expiry."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock
        self._days = {record["group"]: record["days"] for record in store.all(_KIND)}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Sweep in the background for as long as localcloud runs."""
        threading.Thread(target=self._sweep_forever, name="log-retention", daemon=True).start()

    def days(self, group: str) -> int | None:
        return self._days.get(group)

    def set(self, group: str, days: int | None, now_ms: int) -> None:
        """Put (or, with None, delete) a group's policy; events the new policy expires go at once."""
        with self._lock:
            if days is None:
                self.store.delete(_KIND, group)
                self._days.pop(group, None)
            else:
                self.store.put(_KIND, group, {"group": group, "days": days})
                self._days[group] = days
        self.expire(group, now_ms)

    def oldest_kept_ms(self, group: str, now_ms: int) -> int | None:
        """The earliest timestamp the group's policy still keeps at `now_ms` (None: it keeps everything)."""
        days = self._days.get(group)
        if days is None:
            return None
        return now_ms - round(self.clock.seconds(days * 86400) * 1000)

    def expire(self, group: str, now_ms: int) -> None:
        """Delete the group's events older than its retention, and take them out of its streams' sizes."""
        cutoff = self.oldest_kept_ms(group, now_ms)
        if cutoff is None:
            return
        with self.store.transaction() as db:
            expired = db.execute(
                "SELECT stream, sum(length(CAST(message AS BLOB)) + ?) FROM log_events "
                "WHERE grp = ? AND timestamp < ? GROUP BY stream",
                (EVENT_OVERHEAD_BYTES, group, cutoff),
            ).fetchall()
            if not expired:
                return
            db.execute("DELETE FROM log_events WHERE grp = ? AND timestamp < ?", (group, cutoff))
            db.executemany(
                "UPDATE log_streams SET stored_bytes = max(0, stored_bytes - ?), "
                "first_event = (SELECT min(timestamp) FROM log_events WHERE grp = ? AND stream = ?) "
                "WHERE grp = ? AND name = ?",
                [(size, group, stream, group, stream) for stream, size in expired],
            )

    def sweep(self, now_ms: int) -> None:
        """Expire every group that has a policy."""
        for group in list(self._days):
            self.expire(group, now_ms)

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(max(0.05, self.clock.seconds(SWEEP_EVERY_S)))
            try:
                self.sweep(int(time.time() * 1000))
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried at the next one
                log(f"log retention sweep: {type(exc).__name__}: {exc}")
