"""The first epoch's progress line: logged after its first step and then every PROGRESS_SECONDS, read back by the
same module, and never taken for a metric line."""

import re

from hypothesis import given
from hypothesis import strategies as st

from classifier.training.progress import PROGRESS_SECONDS, StepProgress, announce_steps, parse_progress
from services.training.job_spec import DEFAULT_METRIC_DEFINITIONS


@given(durations=st.lists(st.floats(min_value=0.001, max_value=40.0), min_size=1, max_size=60))
def test_the_steps_are_told_first_then_every_interval(durations: list[float]) -> None:
    """A clock that advances by each step's duration: lines after step 1 and whenever the interval has passed,
    none after the last step (the epoch's metric line follows), each reading back as what happened."""
    times = [0.0]
    for seconds in durations:
        times.append(times[-1] + seconds)
    ticks = iter(times)
    told: list[str] = []
    steps = len(durations)
    batches = list(announce_steps(range(steps), steps, told.append, clock=lambda: next(ticks)))
    assert batches == list(range(steps))
    read = [parse_progress(line) for line in told]
    expected, last = [], None
    for step in range(1, steps):
        if last is None or times[step] - last >= PROGRESS_SECONDS:
            expected.append((step, steps, round(times[step], 1)))
            last = times[step]
    assert [(p.step, p.steps, p.seconds) for p in read if p] == expected


def test_the_line_is_no_metric_line() -> None:
    line = StepProgress(12, 112, 10.34).line()
    assert line == "First epoch: 12 of 112 steps in 10.3 s"
    assert parse_progress(f"[1,mpirank:0]<stdout>:{line}") == StepProgress(12, 112, 10.3)
    for regex in [r for _, r in DEFAULT_METRIC_DEFINITIONS] + [r"Epoch ([0-9]+)/"]:
        assert re.search(regex, line) is None
    assert parse_progress("Epoch 1/3: train_loss=1.0 train_acc=0.5 valid_loss=1.0 valid_acc=0.5") is None
