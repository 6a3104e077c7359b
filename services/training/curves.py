"""What a training run tells while and after it runs: its metric curves, read with the job's own regexes
from its log lines (or from CloudWatch, or from any text such as an EC2 machine's console), and its
progress: epoch i of n, elapsed time and an estimate of the time left.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from classifier.training.progress import PREFIX as FIRST_EPOCH_PREFIX
from classifier.training.progress import StepProgress, parse_progress
from services.core.errors import BOTO_ERRORS, from_client_error

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"
MAX_METRIC_LOG_PAGES = 20
"""FilterLogEvents pages read for the curves (each up to 10,000 lines); a job logs one metric line per epoch."""
EPOCH_METRIC_PREFIXES = ("train:", "validation:")
"""Metrics logged once per epoch; `test:` ones come once, at the end."""


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime
    message: str


@dataclass(frozen=True)
class MetricPoint:
    """One value of a metric; `timestamp` is None where the text it came from has no times (a console)."""

    timestamp: datetime | None
    value: float


Series = dict[str, list[MetricPoint]]


@dataclass(frozen=True)
class Progress:
    """How far a running job is: whole epochs done of those asked for, time since training started, and an
    estimate of the time left (the last epoch's length × the epochs left; in the first epoch, its steps' pace ×
    the steps left in all epochs; testing comes on top)."""

    epoch: int
    epochs: int | None
    elapsed_s: float
    eta_s: float | None


def log_line(event: dict[str, Any]) -> LogLine:
    """A CloudWatch Logs event as a line: its time, its message without the trailing newline."""
    return LogLine(datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC), event["message"].rstrip("\n"))


def series_from_lines(lines: Iterable[LogLine], definitions: Iterable[tuple[str, str]]) -> Series:
    """Each metric's values in line order, one point per matching line (a regex that does not compile
    gives no points: SageMaker would have refused it at launch)."""
    return _match(((line.timestamp, line.message) for line in lines), definitions)


def series_from_text(text: str, definitions: Iterable[tuple[str, str]]) -> Series:
    """The same for plain text without times, such as an EC2 machine's console output."""
    return _match(((None, line) for line in text.splitlines()), definitions)


def _match(lines: Iterable[tuple[datetime | None, str]], definitions: Iterable[tuple[str, str]]) -> Series:
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for metric, regex in definitions:
        with contextlib.suppress(re.error):
            compiled.append((metric, re.compile(regex)))
    series: Series = {metric: [] for metric, _ in compiled}
    for timestamp, message in lines:
        for metric, regex in compiled:
            match = regex.search(message)
            if match and match.groups():
                with contextlib.suppress(TypeError, ValueError):
                    series[metric].append(MetricPoint(timestamp, float(match.group(1))))
    return series


def epochs_done(series: Series) -> int:
    """Whole epochs so far: the most points of any per-epoch metric (the script logs one line per epoch)."""
    return max((len(points) for name, points in series.items() if name.startswith(EPOCH_METRIC_PREFIXES)), default=0)


def progress(
    series: Series,
    *,
    epochs: int | None,
    started: datetime | None,
    now: datetime,
    first_steps: tuple[datetime, StepProgress] | None = None,
) -> Progress:
    """Progress of a run that started training at `started` (None: not training yet, nothing elapsed);
    `first_steps`: the newest first-epoch progress line and its time, for an estimate before any epoch ended."""
    done = epochs_done(series)
    elapsed = max(0.0, (now - started).total_seconds()) if started else 0.0
    eta = None
    if started and epochs and done == 0 and first_steps:
        # The first epoch also caches features (head mode), so this errs long until that epoch's end corrects it.
        told_at, told = first_steps
        per_step = told.seconds / told.step
        first_left = max(0.0, per_step * (told.steps - told.step) - (now - told_at).total_seconds())
        eta = first_left + per_step * told.steps * (epochs - 1)
    if started and epochs and 0 < done < epochs:
        ends = sorted(
            {p.timestamp for name, points in series.items() if name.startswith(EPOCH_METRIC_PREFIXES) for p in points}
            - {None}
        )
        if ends:
            # The first epoch also caches features (head mode), so the latest epoch is the better yardstick.
            previous = ends[-2] if len(ends) > 1 else started
            last_epoch = max(0.0, (ends[-1] - previous).total_seconds())
            eta = max(0.0, last_epoch * (epochs - done) - (now - ends[-1]).total_seconds())
    return Progress(done, epochs, elapsed, eta)


_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\|()")
_OPTIONAL_LAST = frozenset("*?{")


def search_term(regex: str) -> str | None:
    """The plain text every match of a metric regex starts with (`train_loss=` of `train_loss=([0-9\\.]+)`):
    CloudWatch Logs then returns only lines that can match. None when that is under 3 characters or holds a
    quote, which a filter pattern cannot carry."""
    text = regex.removeprefix("^")
    end = next((i for i, char in enumerate(text) if char in _REGEX_SYNTAX), len(text))
    if end < len(text) and text[end] in _OPTIONAL_LAST:  # `ab?`: the b is optional
        end -= 1
    term = text[:end]
    return term if len(term) >= 3 and '"' not in term else None


def series_from_logs(logs: Any, name: str, definitions: tuple[tuple[str, str], ...]) -> Series | None:
    """Metric values from host algo-1's log lines, searched by each regex's plain start; None when the
    definitions cannot be turned into a log search (see `search_term`)."""
    terms = [search_term(regex) for _, regex in definitions]
    if not terms or None in terms:
        return None
    request: dict[str, Any] = {
        "logGroupName": LOG_GROUP,
        "logStreamNamePrefix": f"{name}/algo-1-",
        "filterPattern": " ".join(f'?"{term}"' for term in dict.fromkeys(terms)),
    }
    lines: list[LogLine] = []
    try:
        for _ in range(MAX_METRIC_LOG_PAGES):
            response = logs.filter_log_events(**request)
            lines += map(log_line, response.get("events", []))
            request["nextToken"] = response.get("nextToken")
            if not request["nextToken"]:
                break
    except BOTO_ERRORS as exc:
        if _code(exc) != "ResourceNotFoundException":  # no log group yet: nothing logged
            raise from_client_error(exc, what=f"read the metric lines of '{name}'") from exc
    return series_from_lines(lines, definitions)


def first_epoch_progress(logs: Any, name: str) -> tuple[datetime, StepProgress] | None:
    """The newest progress line host algo-1 logged in its first epoch (classifier/training/progress.py), with its
    time; None before the first step is done, or for a script that does not tell."""
    request: dict[str, Any] = {
        "logGroupName": LOG_GROUP,
        "logStreamNamePrefix": f"{name}/algo-1-",
        "filterPattern": f'"{FIRST_EPOCH_PREFIX}"',
    }
    newest: tuple[datetime, StepProgress] | None = None
    try:
        for _ in range(MAX_METRIC_LOG_PAGES):
            response = logs.filter_log_events(**request)
            for event in response.get("events", []):
                told = parse_progress(event["message"])
                if told is not None:
                    newest = (log_line(event).timestamp, told)
            request["nextToken"] = response.get("nextToken")
            if not request["nextToken"]:
                break
    except BOTO_ERRORS as exc:
        if _code(exc) != "ResourceNotFoundException":  # no log group yet: nothing told
            raise from_client_error(exc, what=f"read how far the first epoch of '{name}' is") from exc
    return newest


def series_from_cloudwatch(cloudwatch: Any, name: str, metrics: list[str], start: datetime, end: datetime) -> Series:
    """Metric values SageMaker published to CloudWatch for host algo-1, between `start` and `end`."""
    # 1 s periods keep one point per epoch while the data is high-resolution (CloudWatch keeps that for
    # 3 hours); older jobs are read by the minute, as CloudWatch then requires.
    period = 1 if datetime.now(UTC) - start < timedelta(hours=3) else 60
    queries = [
        {
            "Id": f"m{i}",
            "Label": metric,
            "MetricStat": {
                "Metric": {
                    "Namespace": METRIC_NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": f"{name}/algo-1"}],
                },
                "Period": period,
                "Stat": "Average",
            },
            "ReturnData": True,
        }
        for i, metric in enumerate(metrics[:500])
    ]
    by_id = {f"m{i}": metric for i, metric in enumerate(metrics)}
    series: Series = {metric: [] for metric in metrics}
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    try:
        while True:
            response = cloudwatch.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                metric = by_id.get(result["Id"])
                if metric is None:
                    continue
                series[metric] += [
                    MetricPoint(t, float(v)) for t, v in zip(result["Timestamps"], result["Values"], strict=False)
                ]
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    except BOTO_ERRORS as exc:
        raise from_client_error(exc, what=f"read the metrics of '{name}'") from exc
    for points in series.values():
        points.sort(key=lambda p: p.timestamp or start)
    return series


def _code(exc: Exception) -> str | None:
    return getattr(exc, "response", {}).get("Error", {}).get("Code")
