"""The Debugger tab's charts and tables: per-step losses, accuracy and learning rate, gradient norms per layer,
weight statistics per layer over epochs, update-to-weight ratios, and the rules' verdicts with the step where
each fired marked on the loss chart. Charts are SVG (app/widgets/charts.py says why); long runs are thinned
for drawing (each bucket keeps its lowest and highest point, so spikes and NaNs stay visible)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from app.widgets.charts import RIGHT_AXIS, fit_flat_lines, line_mode, place_legend, points_per_line
from classifier.recording.reader import RECORD_INTERVAL, Recording, Series
from classifier.rules.debugger_rules import RuleResult

PLOT_PX = 220
"""The plot's own height; the legend and the axes get theirs around it (app/widgets/charts.py)."""
COLOURS = qualitative.T10


@dataclass(frozen=True)
class Chart:
    """A chart of the tab under its ``title`` (the page's heading, so it cannot overlap the legend), or None with
    ``note`` saying why there is nothing to draw; ``note`` may also explain a chart that is drawn."""

    title: str
    figure: go.Figure | None
    note: str = ""


def thin(series: Series, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` of a series: per bucket, its lowest and highest values (non-finite values
    are kept as they are, so an explosion still shows)."""
    steps, values = series.steps, series.values
    if len(values) <= max_points:
        return steps, values
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, len(values), buckets + 1, dtype=int)
    keep = set(np.flatnonzero(~np.isfinite(values)).tolist())
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        chunk = values[start:end]
        finite = np.isfinite(chunk)
        if finite.any():
            masked_low = np.where(finite, chunk, np.inf)
            masked_high = np.where(finite, chunk, -np.inf)
            keep.update((start + int(masked_low.argmin()), start + int(masked_high.argmax())))
    index = np.array(sorted(keep))
    return steps[index], values[index]


def figure_frame(y_title: str, *, log: bool = False, x_title: str = "step") -> go.Figure:
    """An empty chart in the tab's style, both axes named (``finish`` places the legend once lines are in)."""
    figure = go.Figure()
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(title_text=y_title, exponentformat="power")
    if log:
        figure.update_yaxes(type="log")
    return figure


def _line(
    figure: go.Figure, series: Series | None, name: str, colour: str, budget: int, *, markers: bool = False
) -> None:
    if series is None or not len(series.values):
        return
    steps, values = thin(series, budget)
    figure.add_trace(
        go.Scatter(
            x=steps,
            y=np.where(np.isfinite(values), values, np.nan),
            name=name,
            mode=line_mode(len(values), markers=markers),
            line={"color": colour},
        )
    )


def finish(figure: go.Figure, *, log: bool = False, right_axis: bool = False) -> go.Figure:
    """The legend placed and a flat line given an axis around it, once every line is in."""
    fit_flat_lines(figure, log=log)
    place_legend(figure, PLOT_PX, right_axis=right_axis)
    return figure


def loss_chart(recording: Recording, results: list[RuleResult]) -> Chart:
    """Training loss per step, validation loss per epoch, and a marker at each step where a rule fired."""
    figure = figure_frame("loss")
    budget = points_per_line(2)
    _line(figure, recording.series("Loss/train"), "train (per step)", COLOURS[0], budget)
    _line(figure, recording.series("Loss/valid"), "validation (per epoch)", COLOURS[1], budget, markers=True)
    for result in results:
        if result.status == "IssuesFound" and result.step is not None:
            figure.add_vline(
                x=result.step,
                line={"color": "crimson", "dash": "dot"},
                annotation_text=result.rule,
                annotation_textangle=-90,
            )
    return Chart("Loss", finish(figure))


def scalar_chart(recording: Recording, prefix: str, title: str, y_title: str, *, log: bool = False) -> Chart:
    """Every tag under ``prefix`` ("GradientNorm/", "LearningRate/") as one line each."""
    tags = recording.tags(prefix)
    if not tags:
        return Chart(title, None, f"{title}: nothing recorded yet.")
    figure = figure_frame(y_title, log=log)
    budget = points_per_line(len(tags))
    for i, tag in enumerate(tags):
        _line(figure, recording.scalars[tag], tag.split("/", 1)[1], COLOURS[i % len(COLOURS)], budget)
    return Chart(title, finish(figure, log=log))


def learning_rate_chart(recording: Recording) -> Chart:
    """Each parameter group's learning rate on a log axis: schedules move it by decades, and a constant 0.001
    reads as 0.001 (a linear axis around it would read as 0)."""
    return scalar_chart(recording, "LearningRate/", "Learning rate", "learning rate", log=True)


def update_ratio_chart(recording: Recording) -> Chart:
    """Update-to-weight ratios per layer, which are recorded only every record_interval steps: until the second
    record the chart has one point a layer, and the note says when the next comes."""
    title = "Update-to-weight ratio per layer"
    chart = scalar_chart(recording, "UpdateRatio/", title, "‖update‖ / ‖weights‖", log=True)
    tags = recording.tags("UpdateRatio/")
    loss = recording.series("Loss/train")
    at = int(loss.steps[-1]) if loss is not None and len(loss.steps) else None
    now = f" and this run is at step {at}" if at is not None else ""
    if not tags:
        return Chart(
            title,
            None,
            f"{title}: not recorded yet. It is recorded every {RECORD_INTERVAL} steps (the job's "
            f"record_interval){now}.",
        )
    steps = recording.scalars[tags[0]].steps
    if len(steps) == 1:
        return Chart(
            title,
            chart.figure,
            f"One ratio per layer so far (step {int(steps[0])}): it is recorded every {RECORD_INTERVAL} steps "
            f"unless the job sets record_interval{now}, so the next comes at step {int(steps[0]) + RECORD_INTERVAL}.",
        )
    return chart


def accuracy_chart(recording: Recording) -> Chart:
    if recording.series("Accuracy/train") is None:
        return Chart("Accuracy", None, "Accuracy: nothing recorded yet.")
    figure = figure_frame("accuracy")
    budget = points_per_line(2)
    _line(figure, recording.series("Accuracy/train"), "train (per step)", COLOURS[0], budget)
    _line(figure, recording.series("Accuracy/valid"), "validation (per epoch)", COLOURS[1], budget, markers=True)
    return Chart("Accuracy", finish(figure))


def weight_chart(recording: Recording) -> Chart:
    """Each layer's weight norm and standard deviation at the steps where epochs ended (step 0: before training)."""
    title = "Weights per layer (norm, and standard deviation dotted)"
    norms = recording.tags("WeightNorm/")
    if not norms:
        return Chart(title, None, "Weights per layer: recorded before training and at each epoch's end; none yet.")
    figure = figure_frame("norm")
    budget = points_per_line(2 * len(norms))
    for i, tag in enumerate(norms):
        colour = COLOURS[i % len(COLOURS)]
        layer = tag.split("/", 1)[1]
        _line(figure, recording.scalars[tag], f"{layer} norm", colour, budget, markers=True)
        std = recording.series(f"WeightStd/{layer}")
        if std is not None:
            figure.add_trace(
                go.Scatter(
                    x=std.steps,
                    y=std.values,
                    name=f"{layer} std",
                    yaxis="y2",
                    mode=line_mode(len(std.values)),
                    line={"color": colour, "dash": "dot"},
                )
            )
    figure.update_layout(yaxis2={**RIGHT_AXIS, "title": {"text": "standard deviation"}})
    return Chart(title, finish(figure, right_axis=True))


def histogram_chart(recording: Recording) -> Chart:
    """Each layer's weight distribution before training and after the last epoch."""
    title = "Weight distributions (first and last)"
    tags = sorted(recording.histograms)
    if not tags:
        return Chart(title, None, "Weight distributions: recorded before training and at each epoch's end; none yet.")
    figure = figure_frame("weights in the bucket", x_title="weight")
    for i, tag in enumerate(tags):
        histograms = recording.histograms[tag]
        for histogram, dash in ((histograms[0], "dot"), (histograms[-1], "solid")):
            figure.add_trace(
                go.Scatter(
                    x=histogram.edges,
                    y=histogram.counts,
                    name=f"{tag.split('/', 1)[1]} @ step {histogram.step}",
                    line={"color": COLOURS[i % len(COLOURS)], "dash": dash, "shape": "hvh"},
                )
            )
    return Chart(title, finish(figure))


def debugger_charts(recording: Recording) -> list[Chart]:
    """The charts under the loss chart, in the order the tab draws them, two to a row."""
    return [
        accuracy_chart(recording),
        learning_rate_chart(recording),
        scalar_chart(recording, "GradientNorm/", "Gradient norm per layer", "gradient norm", log=True),
        update_ratio_chart(recording),
        weight_chart(recording),
        histogram_chart(recording),
    ]


def rules_table(results: list[RuleResult]) -> pd.DataFrame:
    """Rule, status, where it fired, what it saw, what to do, and the parameters it ran with."""
    return pd.DataFrame(
        [
            {
                "rule": r.rule,
                "status": r.status,
                "step": "" if r.step is None else str(r.step),
                "what happened": r.details,
                "what to do": r.advice if r.status == "IssuesFound" else "",
                "parameters": ", ".join(f"{k}={v}" for k, v in r.parameters.items() if v != ""),
            }
            for r in results
        ]
    )
