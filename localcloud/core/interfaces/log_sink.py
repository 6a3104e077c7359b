"""How a service writes CloudWatch Logs without knowing CloudWatch Logs: the interface cloud.py hands the Logs
service (localcloud/logs/provider.py) through, and the background writer that batches per-request log text
so that no request waits on the database."""

from __future__ import annotations

import queue
import threading
from typing import Protocol

from localcloud.core.log import log


class LogSink(Protocol):
    """Where localcloud's runners append log events."""

    def put_events(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Append (timestamp ms, message) events, creating the group and stream on demand."""


class BackgroundLogWriter:
    """Log text that a runner produces per request (a Lambda invocation's START, output, END and REPORT
    lines), split into events and appended by one thread in batches, so that no request waits on the database
    or even on the splitting."""

    def __init__(self, logs: LogSink) -> None:
        self._logs = logs
        self._queue: queue.SimpleQueue[tuple[str, str, int, str]] = queue.SimpleQueue()
        threading.Thread(target=self._write_forever, name="log writer", daemon=True).start()

    def put(self, group: str, stream: str, timestamp_ms: int, text: str) -> None:
        """Every non-blank line of `text` becomes one event at `timestamp_ms`."""
        self._queue.put((group, stream, timestamp_ms, text))

    def _write_forever(self) -> None:
        while True:
            batches: dict[tuple[str, str], list[tuple[int, str]]] = {}
            group, stream, when, text = self._queue.get()
            while True:  # whatever else is waiting goes along, one append per stream
                events = batches.setdefault((group, stream), [])
                events += [(when, line) for line in text.splitlines() if line.strip()]
                try:
                    group, stream, when, text = self._queue.get_nowait()
                except queue.Empty:
                    break
            for (group, stream), events in batches.items():
                try:
                    self._logs.put_events(group, stream, events)
                except Exception as exc:  # noqa: BLE001 - a lost batch must not stop the next ones
                    log(f"could not write to log group {group}: {type(exc).__name__}: {exc}")
