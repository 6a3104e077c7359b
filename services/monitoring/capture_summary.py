"""Summaries of capture files: everything the Monitor page draws, counted once per file so a day of ten thousand
requests is drawn from a few dozen small objects instead of every photo.

A `FileSummary` counts one capture file: requests and their mean confidence per minute, answers per breed per
hour, a confidence histogram, "not a dog" answers, input sizes and content types, unreadable lines, and the
lowest-confidence requests (the review queue's candidates). Summaries merge by adding, so an hour, a day or a
week is the sum of its files'.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.monitoring.capture_records import CapturedRequest, UnreadableRecord, parse_record

SUMMARY_VERSION = 2
"""Bumped when what a summary counts changes, so summaries cached by an older dashboard are recomputed."""
CONFIDENCE_BINS = 20  # 0.05 wide: the low-confidence threshold is chosen in these steps
LOWEST_KEPT = 40  # per file: enough candidates for a review queue of any day
QUEUE_KEPT = 500  # merged: the review queue never shows more of a day than this


@dataclass(frozen=True)
class ReviewCandidate:
    """A captured request worth a human look, and where its photo is: line `line` of capture file `key`."""

    key: str
    line: int
    event_id: str
    inference_id: str | None
    time: str | None
    label: str | None
    confidence: float
    is_dog: bool | None


@dataclass
class FileSummary:
    """The counts of one capture file (or, merged, of many)."""

    requests: int = 0
    unreadable: int = 0
    per_minute: dict[str, list[float]] = field(default_factory=dict)
    """`YYYY-MM-DDTHH:MM` → [requests, sum of top-1 confidence, answers with a confidence]."""
    breeds_per_hour: dict[str, Counter[str]] = field(default_factory=dict)
    """`YYYY-MM-DDTHH` → answers per breed (dogs only: a "not a dog" answer names no breed)."""
    not_dog: int = 0
    answered: int = 0
    confidence_histogram: list[int] = field(default_factory=lambda: [0] * CONFIDENCE_BINS)
    content_types: Counter[str] = field(default_factory=Counter)
    size_bins: Counter[int] = field(default_factory=Counter)
    """Input size class `n` → requests of 2^(n-1) < bytes ≤ 2^n."""
    lowest: list[ReviewCandidate] = field(default_factory=list)

    def add(self, other: FileSummary) -> None:
        """Fold `other`'s counts into this one (the review candidates stay sorted, lowest first)."""
        self.requests += other.requests
        self.unreadable += other.unreadable
        for minute, (count, total, scored) in other.per_minute.items():
            mine = self.per_minute.setdefault(minute, [0, 0.0, 0])
            mine[0], mine[1], mine[2] = mine[0] + count, mine[1] + total, mine[2] + scored
        for hour, breeds in other.breeds_per_hour.items():
            self.breeds_per_hour.setdefault(hour, Counter()).update(breeds)
        self.not_dog += other.not_dog
        self.answered += other.answered
        pairs = zip(self.confidence_histogram, other.confidence_histogram, strict=True)
        self.confidence_histogram = [a + b for a, b in pairs]
        self.content_types.update(other.content_types)
        self.size_bins.update(other.size_bins)
        self.lowest = sorted([*self.lowest, *other.lowest], key=lambda c: c.confidence)[:QUEUE_KEPT]

    def low_confidence(self, threshold: float) -> int:
        """Answers whose top-1 confidence is under `threshold` (rounded down to the histogram's 0.05 steps)."""
        return sum(self.confidence_histogram[: int(threshold * CONFIDENCE_BINS + 1e-9)])

    # -- stored form -------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "unreadable": self.unreadable,
            "per_minute": self.per_minute,
            "breeds_per_hour": {hour: dict(breeds) for hour, breeds in self.breeds_per_hour.items()},
            "not_dog": self.not_dog,
            "answered": self.answered,
            "confidence_histogram": self.confidence_histogram,
            "content_types": dict(self.content_types),
            "size_bins": {str(k): v for k, v in self.size_bins.items()},
            "lowest": [c.__dict__ for c in self.lowest],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileSummary:
        return cls(
            requests=int(data["requests"]),
            unreadable=int(data["unreadable"]),
            per_minute={k: list(v) for k, v in data["per_minute"].items()},
            breeds_per_hour={hour: Counter(breeds) for hour, breeds in data["breeds_per_hour"].items()},
            not_dog=int(data["not_dog"]),
            answered=int(data["answered"]),
            confidence_histogram=[int(x) for x in data["confidence_histogram"]],
            content_types=Counter(data["content_types"]),
            size_bins=Counter({int(k): v for k, v in data["size_bins"].items()}),
            lowest=[ReviewCandidate(**c) for c in data["lowest"]],
        )


def summarize_file(key: str, body: bytes, *, file_hour: datetime | None = None) -> FileSummary:
    """Count one capture file's lines; a line that is not a capture record is counted as unreadable, never
    fatal. `file_hour` (from the file's `YYYY/MM/DD/HH/` folder) places records that carry no inference time."""
    summary = FileSummary()
    candidates: list[tuple[float, int, ReviewCandidate]] = []
    for number, line in enumerate(body.splitlines()):
        if not line.strip():
            continue
        try:
            request = parse_record(line)
        except UnreadableRecord:
            summary.unreadable += 1
            continue
        _count(summary, request, file_hour)
        if request.confidence is not None:
            candidate = _candidate(key, number, request)
            item = (-request.confidence, number, candidate)  # a max-heap of the lowest kept
            if len(candidates) < LOWEST_KEPT:
                heapq.heappush(candidates, item)
            elif item > candidates[0]:
                heapq.heapreplace(candidates, item)
    summary.lowest = sorted((c for _, _, c in candidates), key=lambda c: c.confidence)
    return summary


def _count(summary: FileSummary, request: CapturedRequest, file_hour: datetime | None) -> None:
    when = request.time or file_hour
    minute = when.strftime("%Y-%m-%dT%H:%M") if when else "unknown"
    bucket = summary.per_minute.setdefault(minute, [0, 0.0, 0])
    bucket[0] += 1
    summary.requests += 1
    if request.content_type:
        summary.content_types[request.content_type] += 1
    if request.input_bytes is not None:
        summary.size_bins[max(0, math.ceil(math.log2(max(request.input_bytes, 1))))] += 1
    if request.confidence is None:
        return
    summary.answered += 1
    bucket[1] += request.confidence
    bucket[2] += 1
    index = min(CONFIDENCE_BINS - 1, max(0, int(request.confidence * CONFIDENCE_BINS)))
    summary.confidence_histogram[index] += 1
    if request.is_dog is False:
        summary.not_dog += 1
    elif request.label:
        summary.breeds_per_hour.setdefault(minute[:13], Counter())[request.label] += 1


def _candidate(key: str, line: int, request: CapturedRequest) -> ReviewCandidate:
    return ReviewCandidate(
        key=key,
        line=line,
        event_id=request.event_id,
        inference_id=request.inference_id,
        time=request.time.isoformat() if request.time else None,
        label=request.label,
        confidence=float(request.confidence or 0.0),
        is_dog=request.is_dog,
    )
