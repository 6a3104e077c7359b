"""Several jobs' recorded losses overlaid, per step, for the Compare page: a colour per job, the training
loss of every step as a line and the validation loss of each epoch as dashed markers at the step it ended."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.training.debugger_view import COLOURS, HEIGHT_PX, thin
from classifier.recording.reader import Recording


def step_loss_chart(recordings: dict[str, Recording]) -> go.Figure | None:
    """Train loss per step and validation loss per epoch of each job, or None when no job recorded a loss.
    Long runs are thinned as on the Debugger tab (spikes and NaNs stay visible)."""
    figure = go.Figure()
    for i, (job, recording) in enumerate(recordings.items()):
        colour = COLOURS[i % len(COLOURS)]
        for tag, label, style in (
            ("Loss/train", "train", {"mode": "lines", "line": {"color": colour}}),
            ("Loss/valid", "validation", {"mode": "lines+markers", "line": {"color": colour, "dash": "dash"}}),
        ):
            series = recording.series(tag)
            if series is None or not len(series.values):
                continue
            steps, values = thin(series)
            y = np.where(np.isfinite(values), values, np.nan)
            figure.add_trace(go.Scattergl(x=steps, y=y, name=f"{job} · {label}", legendgroup=job, **style))
    if not figure.data:
        return None
    figure.update_layout(
        height=HEIGHT_PX + 60,
        margin={"t": 30, "b": 10},
        title={"text": "Loss per step (recorded)", "font": {"size": 14}},
        legend={"orientation": "h", "y": -0.25},
    )
    figure.update_xaxes(title_text="step")
    figure.update_yaxes(title_text="loss")
    return figure
