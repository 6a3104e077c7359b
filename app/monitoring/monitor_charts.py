"""Charts of an endpoint's captures: requests and confidence over the day, answered breeds against the training
set's, drift per hour against the threshold, confidence and input sizes, and reviewed accuracy per day."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go

from app.widgets.charts import period_bars, time_axis
from services.evaluation.breed_names import display
from services.monitoring.capture_summary import CONFIDENCE_BINS
from services.monitoring.drift import DRIFT_METRIC, HourDrift
from services.monitoring.reviews import DayAccuracy

HEIGHT_PX = 260
BUCKET_MINUTES = 10
TOP_BREEDS = 20


def _layout(figure: go.Figure, y_title: str, height: int = HEIGHT_PX) -> go.Figure:
    figure.update_yaxes(title_text=y_title, rangemode="tozero")
    figure.update_layout(height=height, margin={"t": 30, "b": 40, "l": 10, "r": 10}, legend={"orientation": "h"})
    return figure


def _buckets(per_minute: Mapping[str, list[float]]) -> dict[datetime, list[float]]:
    """Minutes folded into 10-minute buckets: [requests, confidence sum, answers with a confidence]."""
    out: dict[datetime, list[float]] = {}
    for minute, (count, total, scored) in per_minute.items():
        try:
            when = datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
        except ValueError:
            continue  # records without a time
        start = when - timedelta(minutes=when.minute % BUCKET_MINUTES)
        bucket = out.setdefault(start, [0, 0.0, 0])
        bucket[0], bucket[1], bucket[2] = bucket[0] + count, bucket[1] + total, bucket[2] + scored
    return dict(sorted(out.items()))


def requests_chart(per_minute: Mapping[str, list[float]]) -> go.Figure:
    buckets = _buckets(per_minute)
    figure = go.Figure(go.Bar(x=list(buckets), y=[b[0] for b in buckets.values()], name="requests"))
    period_bars(figure, timedelta(minutes=BUCKET_MINUTES))
    time_axis(figure, list(buckets), timedelta(minutes=BUCKET_MINUTES))
    return _layout(figure, f"requests per {BUCKET_MINUTES} min")


def confidence_chart(per_minute: Mapping[str, list[float]]) -> go.Figure:
    buckets = {t: b for t, b in _buckets(per_minute).items() if b[2]}
    figure = go.Figure(
        go.Scatter(x=list(buckets), y=[b[1] / b[2] for b in buckets.values()], mode="lines+markers", name="mean")
    )
    time_axis(figure, list(buckets), timedelta(minutes=BUCKET_MINUTES))
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(figure, "mean top-1 confidence")


def breeds_chart(answers: Mapping[str, int], baseline: Mapping[str, int]) -> go.Figure:
    """Shares of the most answered (or most trained) breeds, production beside the training set."""
    total = sum(answers.values()) or 1
    trained = sum(baseline.values()) or 1
    shares = {label: answers.get(label, 0) / total for label in set(answers) | set(baseline)}
    base = {label: baseline.get(label, 0) / trained for label in shares}
    top = sorted(shares, key=lambda label: max(shares[label], base[label]), reverse=True)[:TOP_BREEDS][::-1]
    figure = go.Figure(go.Bar(y=[display(x) for x in top], x=[shares[x] for x in top], name="answers", orientation="h"))
    if baseline:
        figure.add_trace(
            go.Bar(y=[display(x) for x in top], x=[base[x] for x in top], name="training set", orientation="h")
        )
    figure.update_xaxes(tickformat=".0%", title_text="share")
    figure.update_layout(barmode="group")
    return _layout(figure, "", height=120 + 22 * len(top))


def drift_chart(drift: list[HourDrift], threshold: float | None) -> go.Figure:
    """Each scored hour's distance beside its noise floor (what chance alone scores for as many answers) and, with
    an alarm, the level the alarm fires above: the floor plus the threshold."""
    scored = [d for d in drift if d.distance is not None]
    hours = [datetime.strptime(d.hour, "%Y-%m-%dT%H").replace(tzinfo=UTC) for d in scored]
    answers = [d.answers for d in scored]
    figure = go.Figure(
        go.Scatter(
            x=hours,
            y=[d.distance for d in scored],
            mode="lines+markers",
            name=DRIFT_METRIC,
            customdata=answers,
            hovertemplate="%{y:.3f} from %{customdata} answers<extra></extra>",
        )
    )
    floors = [d.floor for d in scored]
    if all(f is not None for f in floors):
        hover = "chance scores up to %{y:.3f} for %{customdata} answers<extra></extra>"
        figure.add_trace(_level(hours, floors, "chance alone (95 %)", "grey", "dash", hover, answers))
        if threshold is not None:
            alarm = [min(1.0, f + threshold) for f in floors]
            hover = "the alarm fires above %{y:.3f}<extra></extra>"
            figure.add_trace(_level(hours, alarm, f"alarm above ({threshold:.2f} over chance)", "red", "dot", hover))
    time_axis(figure, hours, timedelta(hours=1))
    figure.update_yaxes(range=[0, 1.02])
    return _layout(figure, DRIFT_METRIC)


def _level(
    hours: list[datetime],
    levels: list[float],
    name: str,
    colour: str,
    dash: str,
    hover: str,
    answers: list[int] | None = None,
) -> go.Scatter:
    """A per-hour level drawn beside the distance: a line, and a marker too, as a day with one scored hour has no
    line to draw."""
    return go.Scatter(
        x=hours,
        y=levels,
        mode="lines+markers",
        line={"dash": dash, "color": colour},
        marker={"symbol": "line-ew-open", "size": 18, "line": {"width": 2, "color": colour}},
        name=name,
        customdata=answers,
        hovertemplate=hover,
    )


def confidence_histogram(histogram: list[int], low: float) -> go.Figure:
    edges = [i / CONFIDENCE_BINS for i in range(CONFIDENCE_BINS)]
    colours = ["#d62728" if edge < low else "#1f77b4" for edge in edges]
    figure = go.Figure(
        go.Bar(x=[e + 0.5 / CONFIDENCE_BINS for e in edges], y=histogram, marker_color=colours, name="answers")
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title_text="top-1 confidence (red: low)")
    return _layout(figure, "answers")


def sizes_chart(size_bins: Mapping[int, int]) -> go.Figure:
    ordered = sorted(size_bins.items())
    figure = go.Figure(go.Bar(x=[_size_label(n) for n, _ in ordered], y=[c for _, c in ordered], name="requests"))
    figure.update_xaxes(title_text="request size up to", type="category")
    return _layout(figure, "requests")


def _size_label(power: int) -> str:
    size = 2**power
    return f"{size // 2**20} MB" if size >= 2**20 else f"{size // 2**10} KB" if size >= 2**10 else f"{size} B"


def accuracy_chart(days: list[DayAccuracy]) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=[d.day for d in days],
            y=[d.right / d.reviewed for d in days],
            mode="lines+markers",
            name="accuracy",
            customdata=[[d.right, d.reviewed] for d in days],
            hovertemplate="%{customdata[0]} of %{customdata[1]} right<extra></extra>",
        )
    )
    figure.update_xaxes(type="category", title_text="day the photos were sent")
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(figure, "model right on reviewed photos")
