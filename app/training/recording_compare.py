"""Several jobs' recorded losses overlaid, per step, for the Compare page: a colour per job, the training
loss of every step as a line and the validation loss of each epoch as dashed markers at the step it ended."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.training.debugger_view import COLOURS, PLOT_PX, thin
from app.widgets.charts import line_mode, place_legend, points_per_line
from classifier.recording.reader import Recording


def step_loss_chart(recordings: dict[str, Recording]) -> go.Figure | None:
    """Train loss per step and validation loss per epoch of each job, or None when no job recorded a loss (the
    page titles it "Loss per step (recorded)").
    Long runs are thinned as on the Debugger tab (spikes and NaNs stay visible), drawn in SVG like every chart."""
    figure = go.Figure()
    budget = points_per_line(2 * len(recordings))
    for i, (job, recording) in enumerate(recordings.items()):
        colour = COLOURS[i % len(COLOURS)]
        for tag, label, markers, dash in (
            ("Loss/train", "train", False, "solid"),
            ("Loss/valid", "validation", True, "dash"),
        ):
            series = recording.series(tag)
            if series is None or not len(series.values):
                continue
            steps, values = thin(series, budget)
            figure.add_trace(
                go.Scatter(
                    x=steps,
                    y=np.where(np.isfinite(values), values, np.nan),
                    name=f"{job} · {label}",
                    legendgroup=job,
                    mode=line_mode(len(values), markers=markers),
                    line={"color": colour, "dash": dash},
                )
            )
    if not figure.data:
        return None
    figure.update_xaxes(title_text="step")
    figure.update_yaxes(title_text="loss")
    place_legend(figure, PLOT_PX + 60)
    return figure
