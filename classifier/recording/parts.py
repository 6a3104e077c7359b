"""A recording written as parts, so that it can be copied to S3 (which has no append) one closed file at a time,
and read back in order up to a cap.

Each stream of a host (its TensorBoard events, system samples and timeline) is a directory of files whose names
sort in the order they were written; the writer closes one and opens the next when it reaches ROLL_BYTES or has
held something for ROLL_SECONDS. Only the last file of a directory may still grow (the assumption TensorBoard
makes of event files too, reading a directory's files in name order), so a sync uploads each earlier file once,
and the last one when the job ends. Readers take a stream's parts in order up to MAX_STREAM_BYTES and report the
rest as left out, so a long run is never read into memory whole.
"""

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLL_BYTES = 4 * 2**20
"""A part is closed at this size: a sync uploads at most this much of a stream again at the end."""
ROLL_SECONDS = 30.0
"""...or once it has held something this long: how far a copy on S3 lags behind a running job."""
MAX_STREAM_BYTES = 16 * 2**20
"""Bytes read of one stream (events decode at about 5 MB/s; 16 MB is some 80,000 steps of this classifier)."""


def part_name(opened: float, index: int, prefix: str = "", suffix: str = "") -> str:
    """A name that sorts in writing order: the opening second, then the part's number within the stream."""
    return f"{prefix}{int(opened):010d}.{index:05d}{suffix}"


def stream_of(path: str) -> str:
    """The stream a file (path relative to the recording directory) belongs to: its directory."""
    return path.rpartition("/")[0]


def streams(paths: Iterable[str]) -> dict[str, list[str]]:
    """Each directory's files, in the order they were written (name order)."""
    grouped: dict[str, list[str]] = {}
    for path in sorted(paths):
        grouped.setdefault(stream_of(path), []).append(path)
    return grouped


def growing(paths: Iterable[str]) -> set[str]:
    """The files that may still grow: the last of each directory."""
    return {parts[-1] for parts in streams(paths).values()}


@dataclass
class ReadPlan:
    """How much of each file to read (from its start): every stream's parts in order, up to the cap."""

    lengths: dict[str, int] = field(default_factory=dict)
    cut: set[str] = field(default_factory=set)
    """Files read only in part because of the cap (their last record is then not whole, and that is expected)."""
    notes: list[str] = field(default_factory=list)
    """What was left out, in words."""


def plan_reading(sizes: Mapping[str, int], max_bytes: int = MAX_STREAM_BYTES) -> ReadPlan:
    """What to read of files of these sizes (path relative to the recording directory -> bytes)."""
    plan = ReadPlan()
    for stream, paths in streams(sizes).items():
        budget = max_bytes
        for path in paths:
            take = min(sizes[path], budget)
            if take:
                plan.lengths[path] = take
            if take < sizes[path]:
                plan.cut.add(path)
            budget -= take
        total = sum(sizes[path] for path in paths)
        if total <= max_bytes:
            continue
        what = f"{paths[0]} is" if len(paths) == 1 else f"{stream or 'the recording'}/ holds {len(paths)} files,"
        plan.notes.append(
            f"{what} {total / 2**20:.0f} MB: only its first {max_bytes / 2**20:g} MB were read, so the last steps "
            "are missing here (TensorBoard reads the whole of it)."
        )
    return plan


def text_file(path: Path) -> Any:
    """A JSON-lines part, opened for appending."""
    return path.open("a", encoding="utf-8")


class RollingParts:
    """The files of one stream, written through ``opener(path)`` (an object with write, flush and close): a new
    one when the current one is due. Thread-safe, so one thread may write while another flushes."""

    def __init__(
        self,
        directory: Path,
        opener: Callable[[Path], Any],
        *,
        prefix: str = "",
        suffix: str = "",
        header_bytes: int = 0,
        roll_bytes: int = ROLL_BYTES,
        roll_seconds: float = ROLL_SECONDS,
    ) -> None:
        """``header_bytes``: what ``opener`` writes into every new file (an event file's version record)."""
        self.directory, self.opener, self.prefix, self.suffix = directory, opener, prefix, suffix
        self.header_bytes, self.roll_bytes, self.roll_seconds = header_bytes, roll_bytes, roll_seconds
        self.index = 0
        self.paths: list[Path] = []
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._open()

    def _open(self) -> None:
        self.opened = time.time()
        path = self.directory / part_name(self.opened, self.index, self.prefix, self.suffix)
        self.index += 1
        self.paths.append(path)
        self.file, self.written = self.opener(path), self.header_bytes

    def write(self, data: Any, size: int) -> None:
        """``data`` as the opener's file takes it (whole records: a part ends between two); ``size``: the bytes it
        adds to the file. A part that reaches ``roll_bytes`` is closed at once."""
        with self._lock:
            self.file.write(data)
            self.written += size
            if self.written >= self.roll_bytes:
                self._roll()

    def flush(self) -> None:
        """Flush, and move on to the next file when this one has held something for ``roll_seconds``."""
        with self._lock:
            self.file.flush()
            if self.written > self.header_bytes and time.time() - self.opened >= self.roll_seconds:
                self._roll()

    def _roll(self) -> None:
        self.file.close()  # closed before the next one exists: a sync never copies a part half-written
        self._open()

    def close(self) -> None:
        """Close the last file; one that holds nothing (opened just before the end) is removed."""
        with self._lock:
            self.file.close()
            if self.written <= self.header_bytes and len(self.paths) > 1:
                self.paths.pop().unlink(missing_ok=True)
