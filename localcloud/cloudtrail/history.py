"""The event history: every request localcloud authorised or refused, kept for LookupEvents.

Recording costs a request one append; the records are built and written to `cloudtrail/events.sqlite3` off the
request path (by a writer thread every second, or by the next lookup, which must see every earlier call). They
live on disk, not in memory: a busy endpoint adds ~100 events a second, and 50,000 records held as objects took
~100 MB of the server. Lookups read them back newest first, a batch at a time.
The history is bounded as AWS bounds it: 90 days, and here also a number of events, the oldest going first.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localcloud.cloudtrail.events import lookup_record
from localcloud.core.interfaces.trail import Activity
from localcloud.core.log import log

RETENTION_SECONDS = 90 * 24 * 3600  # LookupEvents reads the last 90 days
MAX_EVENTS = 50_000
FLUSH_SECONDS = 1.0
READ_BATCH = 500  # records read back per query while a lookup walks the history


class EventHistory:
    """Implements core's ActivityLog: `record` on the request path, `events` for LookupEvents."""

    def __init__(self, data_dir: Path, *, max_events: int = MAX_EVENTS) -> None:
        folder = data_dir / "cloudtrail"
        folder.mkdir(parents=True, exist_ok=True)
        self._max = max_events
        self._pending: deque[Activity] = deque()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(folder / "events.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_time REAL NOT NULL, "
            "record TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS events_by_time ON events (event_time)")
        self._import_jsonl(folder / "events.jsonl")
        threading.Thread(target=self._flush_forever, name="cloudtrail writer", daemon=True).start()

    def record(self, activity: Activity) -> None:
        self._pending.append(activity)  # deque.append is atomic: no lock on the request path

    def events(self, start: float | None = None, end: float | None = None) -> Iterator[dict[str, Any]]:
        """The events of the last 90 days between `start` and `end` (epoch seconds, both included), newest first."""
        self._flush()
        earliest = max(time.time() - RETENTION_SECONDS, start if start is not None else 0.0)
        latest = end if end is not None else float("inf")
        below = 2**63 - 1  # past the largest seq SQLite gives
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, record FROM events WHERE event_time >= ? AND event_time <= ? AND seq < ? "
                    "ORDER BY seq DESC LIMIT ?",
                    (earliest, latest, below, READ_BATCH),
                ).fetchall()
            for _, record in rows:
                yield json.loads(record)
            if len(rows) < READ_BATCH:
                return
            below = rows[-1][0]

    def _import_jsonl(self, path: Path) -> None:
        """An older data dir kept the history as JSON lines: move its newest events into the table, once."""
        if not path.exists():
            return
        rows = []
        for line in path.read_text(errors="replace").splitlines()[-self._max :]:
            with contextlib.suppress(json.JSONDecodeError, KeyError, TypeError):
                rows.append((float(json.loads(line)["EventTime"]), line))
        with self._lock:
            self._insert(rows)
        path.unlink()

    def _insert(self, rows: list[tuple[float, str]]) -> None:
        """Append (time, record) rows and drop the oldest beyond the bound; the caller holds the lock."""
        if not rows:
            return
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT INTO events (event_time, record) VALUES (?, ?)", rows)
            self._db.execute(
                "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ? OR event_time < ?",
                (self._max, time.time() - RETENTION_SECONDS),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _flush(self) -> None:
        with self._lock:
            built = []
            while self._pending:
                record = lookup_record(str(uuid.uuid4()), self._pending.popleft())
                built.append((record["EventTime"], json.dumps(record)))
            try:
                self._insert(built)
            except sqlite3.Error as exc:
                log(f"could not write the CloudTrail event history: {exc}")

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self._flush()
            except Exception as exc:  # noqa: BLE001 - the writer must outlive one bad record
                log(f"CloudTrail writer: {type(exc).__name__}: {exc}")
