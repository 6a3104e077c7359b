"""Plotly figures of an evaluation: the confusion matrix and the reliability diagram.

The matrix stays readable at 133 × 133: breeds are in cluster order (services/evaluation/confusion.py), the colour
scale tops out at the largest confusion so the diagonal does not wash everything else out (hover gives every exact
count), and it zooms with plotly's own box zoom. Heatmap cells cannot be selected in Streamlit, so an invisible
marker sits on every non-empty cell: clicking one (or box-selecting several) selects its photos.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from services.evaluation.breed_names import display
from services.evaluation.confusion import Confusion
from services.evaluation.metrics import Calibration

CELL_PX = 9
MIN_SIDE_PX = 420
LABEL_PX = 190


def confusion_figure(matrix: Confusion) -> go.Figure:
    names = [display(b) for b in matrix.breeds]
    counts = matrix.counts
    off_diagonal = counts - np.diag(np.diag(counts))
    top = max(1, int(off_diagonal.max())) if counts.size else 1
    hover = "is %{y}<br>said %{x}<br>%{z} photo(s)<extra></extra>"
    figure = go.Figure(
        go.Heatmap(
            z=counts,
            x=names,
            y=names,
            zmin=0,
            zmax=top,
            colorscale="Blues",
            colorbar={"title": "photos", "thickness": 12},
            hovertemplate=hover,
            xgap=0.5 if len(names) < 60 else 0,
            ygap=0.5 if len(names) < 60 else 0,
        )
    )
    rows, cols = np.nonzero(counts)
    figure.add_trace(
        go.Scatter(
            x=[names[c] for c in cols],
            y=[names[r] for r in rows],
            mode="markers",
            marker={"size": max(4, CELL_PX), "opacity": 0.0, "symbol": "square"},
            hovertemplate="is %{y}<br>said %{x}<br>click to see the photos<extra></extra>",
            showlegend=False,
            name="cells",
        )
    )
    side = max(MIN_SIDE_PX, CELL_PX * len(names))
    font = 8 if len(names) > 60 else 10
    figure.update_layout(
        height=side + LABEL_PX,
        margin={"l": LABEL_PX, "r": 10, "t": 30, "b": LABEL_PX},
        dragmode="zoom",
        clickmode="event+select",
        # Every breed labelled down the side (cells are CELL_PX high); along the bottom plotly shows what fits the
        # chart's width, and more as it zooms in.
        xaxis={
            "title": "the model said",
            "tickangle": -90,
            "tickfont": {"size": font},
            "side": "bottom",
            "range": [-0.5, len(names) - 0.5],  # fixed: the cells' markers would pad an automatic range
        },
        yaxis={
            "title": "the photo is",
            "tickfont": {"size": font},
            "tickmode": "array",
            "tickvals": names,
            "range": [len(names) - 0.5, -0.5],  # reversed: the first breed on top
        },
        title={"text": f"{len(names)} breeds, ordered so breeds mixed up with each other sit together", "x": 0},
    )
    return figure


def reliability_figure(found: Calibration) -> go.Figure:
    """Share right per confidence bin against the diagonal a calibrated model would follow; photos per bin below,
    on their own axis (a bin of two photos says little)."""
    centres = [(a + b) / 2 for a, b in zip(found.edges, found.edges[1:], strict=False)]
    width = (found.edges[1] - found.edges[0]) * 0.9
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06)
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated", line={"dash": "dot", "color": "#888"}),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(
            x=centres,
            y=[a if a is not None else 0 for a in found.accuracy],
            width=width,
            name="share right",
            marker={"color": "#1f77b4"},
            customdata=[[n, c if c is not None else 0] for n, c in zip(found.counts, found.confidence, strict=True)],
            hovertemplate="confidence %{x:.2f}<br>right %{y:.0%}<br>%{customdata[0]} photo(s), "
            "mean confidence %{customdata[1]:.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(x=centres, y=found.counts, width=width, name="photos", marker={"color": "#bbb"}), row=2, col=1
    )
    figure.update_layout(
        height=440,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend={"orientation": "h", "y": 1.1},
        showlegend=True,
    )
    figure.update_yaxes(title_text="share right", range=[0, 1], tickformat=".0%", row=1, col=1)
    figure.update_yaxes(title_text="photos", rangemode="tozero", row=2, col=1)
    figure.update_xaxes(range=[0, 1], row=1, col=1)
    figure.update_xaxes(title_text="the model's confidence in its first answer", range=[0, 1], row=2, col=1)
    return figure
