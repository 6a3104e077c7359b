"""The event history: every request localcloud authorised or refused, kept for LookupEvents.

Recording costs a request one append; the records are built and written to `cloudtrail/events.jsonl` off the
request path (by a writer thread every second, or by the next lookup, which must see every earlier call).
The history is bounded as AWS bounds it: 90 days, and here also a number of events, the oldest going first.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from localcloud.cloudtrail.events import lookup_record
from localcloud.core.interfaces.trail import Activity
from localcloud.core.log import log

RETENTION_SECONDS = 90 * 24 * 3600  # LookupEvents reads the last 90 days
MAX_EVENTS = 50_000
FLUSH_SECONDS = 1.0


class EventHistory:
    """Implements core's ActivityLog: `record` on the request path, `events` for LookupEvents."""

    def __init__(self, data_dir: Path, *, max_events: int = MAX_EVENTS) -> None:
        self._file = data_dir / "cloudtrail" / "events.jsonl"
        self._file.parent.mkdir(parents=True, exist_ok=True)
        self._max = max_events
        self._records: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._pending: deque[Activity] = deque()
        self._lock = threading.Lock()
        self._lines_in_file = self._load()
        threading.Thread(target=self._flush_forever, name="cloudtrail writer", daemon=True).start()

    def record(self, activity: Activity) -> None:
        self._pending.append(activity)  # deque.append is atomic: no lock on the request path

    def events(self) -> list[dict[str, Any]]:
        """Every event of the last 90 days, newest first."""
        self._flush()
        oldest = time.time() - RETENTION_SECONDS
        with self._lock:
            return [r for r in reversed(self._records) if r["EventTime"] >= oldest]

    def _load(self) -> int:
        if not self._file.exists():
            return 0
        lines = self._file.read_text(errors="replace").splitlines()
        for line in lines[-self._max :]:
            with contextlib.suppress(json.JSONDecodeError):
                self._records.append(json.loads(line))
        return len(lines)

    def _flush(self) -> None:
        with self._lock:
            built = []
            while self._pending:
                built.append(lookup_record(str(uuid.uuid4()), self._pending.popleft()))
            if not built:
                return
            self._records.extend(built)
            try:
                self._write(built)
            except OSError as exc:
                log(f"could not write the CloudTrail event history: {exc}")

    def _write(self, built: list[dict[str, Any]]) -> None:
        if self._lines_in_file + len(built) > 2 * self._max:  # keep the file bounded: rewrite what is kept
            lines = [json.dumps(r) for r in self._records]
            self._file.write_text("".join(line + "\n" for line in lines))
            self._lines_in_file = len(lines)
            return
        with self._file.open("a") as out:
            out.writelines(json.dumps(r) + "\n" for r in built)
        self._lines_in_file += len(built)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self._flush()
            except Exception as exc:  # noqa: BLE001 - the writer must outlive one bad record
                log(f"CloudTrail writer: {type(exc).__name__}: {exc}")
