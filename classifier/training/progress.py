"""How far the first epoch is, told in the log before its metric line: ``First epoch: 12 of 112 steps in 10.3 s``.

The metric lines come once per epoch, so whoever watches a job (the dashboard's Job page) has nothing to estimate
the time left from until the first epoch ends, which can take minutes (it also caches the photos' features). This
line is logged after the first step, then every PROGRESS_SECONDS. It starts with neither ``Epoch`` nor a metric's
name, so metric regexes such as ``Epoch ([0-9]+)/`` or ``train_loss=([0-9\\.]+)`` never count it. No torch here:
the dashboard parses the line with the same module that writes it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

PROGRESS_SECONDS = 15.0
PREFIX = "First epoch:"
_LINE = re.compile(r"First epoch: (\d+) of (\d+) steps in ([0-9]+(?:\.[0-9]+)?) s")

T = TypeVar("T")


@dataclass(frozen=True)
class StepProgress:
    """`step` of the first epoch's `steps` training steps done, `seconds` after the epoch began."""

    step: int
    steps: int
    seconds: float

    def line(self) -> str:
        return f"{PREFIX} {self.step} of {self.steps} steps in {self.seconds:.1f} s"


def parse_progress(message: str) -> StepProgress | None:
    """The progress a log line tells, or None for any other line."""
    match = _LINE.search(message)
    if match is None:
        return None
    step, steps, seconds = int(match.group(1)), int(match.group(2)), float(match.group(3))
    return StepProgress(step, steps, seconds) if 0 < step <= steps else None


def announce_steps(
    batches: Iterable[T], steps: int, log: Callable[[str], None], clock: Callable[[], float] = time.perf_counter
) -> Iterator[T]:
    """`batches` unchanged, logging the progress line once a step is done: after the first, then every
    PROGRESS_SECONDS (each step is timed when the loop asks for the next batch, so its work is counted)."""
    started = clock()
    last_told: float | None = None
    for step, batch in enumerate(batches, start=1):
        yield batch
        now = clock()
        if step < steps and (last_told is None or now - last_told >= PROGRESS_SECONDS):
            log(StepProgress(step, steps, now - started).line())
            last_told = now
