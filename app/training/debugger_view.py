"""The Debugger tab's charts and tables: per-step losses, accuracy and learning rate, gradient norms per layer,
weight statistics per layer over epochs, update-to-weight ratios, and the rules' verdicts with the step where
each fired marked on the loss chart. Long runs are thinned for drawing (each bucket keeps its lowest and
highest point, so spikes and NaNs stay visible)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from classifier.recording.reader import Recording, Series
from classifier.rules.debugger_rules import RuleResult

MAX_POINTS = 1200
"""Points drawn per curve: 5,000 steps thin to this, and the chart paints in well under a second."""
HEIGHT_PX = 280
COLOURS = qualitative.T10


def thin(series: Series, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` of a series: per bucket, its lowest and highest values (non-finite values
    are kept as they are, so an explosion still shows)."""
    steps, values = series.steps, series.values
    if len(values) <= max_points:
        return steps, values
    buckets = max_points // 2
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


def _figure(title: str, *, log: bool = False, x_title: str = "step") -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        height=HEIGHT_PX,
        margin={"t": 30, "b": 10},
        title={"text": title, "font": {"size": 14}},
        legend={"orientation": "h", "y": -0.25},
    )
    figure.update_xaxes(title_text=x_title)
    if log:
        figure.update_yaxes(type="log")
    return figure


def _line(figure: go.Figure, series: Series | None, name: str, colour: str, *, markers: bool = False) -> None:
    if series is None or not len(series.values):
        return
    steps, values = thin(series)
    figure.add_trace(
        go.Scattergl(
            x=steps,
            y=np.where(np.isfinite(values), values, np.nan),
            name=name,
            mode="lines+markers" if markers else "lines",
            line={"color": colour},
        )
    )


def loss_chart(recording: Recording, results: list[RuleResult]) -> go.Figure:
    """Training loss per step, validation loss per epoch, and a marker at each step where a rule fired."""
    figure = _figure("Loss")
    _line(figure, recording.series("Loss/train"), "train (per step)", COLOURS[0])
    _line(figure, recording.series("Loss/valid"), "validation (per epoch)", COLOURS[1], markers=True)
    for result in results:
        if result.status == "IssuesFound" and result.step is not None:
            figure.add_vline(
                x=result.step,
                line={"color": "crimson", "dash": "dot"},
                annotation_text=result.rule,
                annotation_textangle=-90,
            )
    return figure


def scalar_chart(recording: Recording, prefix: str, title: str, *, log: bool = False) -> go.Figure | None:
    """Every tag under ``prefix`` ("GradientNorm/", "LearningRate/") as one line each, or None if none."""
    tags = recording.tags(prefix)
    if not tags:
        return None
    figure = _figure(title, log=log)
    for i, tag in enumerate(tags):
        _line(figure, recording.scalars[tag], tag.split("/", 1)[1], COLOURS[i % len(COLOURS)])
    return figure


def accuracy_chart(recording: Recording) -> go.Figure | None:
    if recording.series("Accuracy/train") is None:
        return None
    figure = _figure("Accuracy")
    _line(figure, recording.series("Accuracy/train"), "train (per step)", COLOURS[0])
    _line(figure, recording.series("Accuracy/valid"), "validation (per epoch)", COLOURS[1], markers=True)
    return figure


def weight_chart(recording: Recording) -> go.Figure | None:
    """Each layer's weight norm and standard deviation at the steps where epochs ended (step 0: before training)."""
    norms, stds = recording.tags("WeightNorm/"), recording.tags("WeightStd/")
    if not norms:
        return None
    figure = _figure("Weights per layer (norm, and standard deviation dotted)")
    for i, tag in enumerate(norms):
        colour = COLOURS[i % len(COLOURS)]
        layer = tag.split("/", 1)[1]
        _line(figure, recording.scalars[tag], f"{layer} norm", colour, markers=True)
        std = recording.series(f"WeightStd/{layer}")
        if std is not None and f"WeightStd/{layer}" in stds:
            figure.add_trace(
                go.Scatter(
                    x=std.steps, y=std.values, name=f"{layer} std", yaxis="y2", line={"color": colour, "dash": "dot"}
                )
            )
    figure.update_layout(yaxis2={"overlaying": "y", "side": "right", "showgrid": False})
    return figure


def histogram_chart(recording: Recording) -> go.Figure | None:
    """Each layer's weight distribution before training and after the last epoch."""
    tags = sorted(recording.histograms)
    if not tags:
        return None
    figure = _figure("Weight distributions (first and last)", x_title="weight")
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
    return figure


def rules_table(results: list[RuleResult]) -> pd.DataFrame:
    """Rule, status, where it fired, what it saw, what to do, and the parameters it ran with."""
    return pd.DataFrame(
        [
            {
                "rule": r.rule,
                "status": r.status,
                "step": r.step,
                "what happened": r.details,
                "what to do": r.advice if r.status == "IssuesFound" else "",
                "parameters": ", ".join(f"{k}={v}" for k, v in r.parameters.items() if v != ""),
            }
            for r in results
        ]
    )
