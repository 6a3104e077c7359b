"""Chart conventions every page shares.

- SVG traces only: Chromium keeps 16 live WebGL contexts a page and drops the oldest ("Too many active WebGL
  contexts"), so a page of WebGL charts goes blank chart by chart. SVG paints a few thousand points a chart
  quickly, so long series are thinned to ``SVG_POINTS_PER_CHART`` instead.
- Nothing overlaps: the chart's title is the page's (a heading above the chart), the legend sits above the
  plot in a top margin sized for its rows (or, for many lines, at the right) and under a band kept free for the
  toolbars, and the bottom margin holds the tick labels and the axis title.
- Time axes are dates in the dashboard's UTC form, and a single time is shown with room around it (plotly
  would zoom into a millisecond).
- A flat line gets an axis around its value (plotly draws a constant 0.001 in the middle of -1..1, reading as 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go

SVG_POINTS_PER_CHART = 4000
"""Points one chart draws at most, all its lines together (measured: plotly paints that in SVG at once)."""
MIN_POINTS_PER_LINE = 100
"""A chart of many lines still gives each enough points to show its shape (50 lowest and highest pairs)."""
MARKERS_UP_TO = 50
"""Lines of this many points or fewer get markers too: a single point drawn as a line alone is invisible."""
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
"""The dashboard's one time form (app.widgets.formatting.timestamp), as plotly's d3 format."""
TICK_FORMAT = "%H:%M:%S"
"""Tick labels of a time axis: one line of clock time (the hover has the date)."""
BARS_SHARE = 0.8
"""Of each period, the part its bars fill (the rest is the gap to the next period's)."""
LEGEND_ROW_PX = 22
LEGEND_WIDTH_PX = 400
"""The width a half-width chart's legend has. plotly lines a horizontal legend's entries up in columns as wide
as its widest entry and starts a row when the next would not fit."""
LEGEND_ENTRY_PX, LEGEND_CHAR_PX = 40, 7
"""An entry's symbol and gaps, and a character of its name at plotly's 12 px font."""
LEGEND_ABOVE_UP_TO = 9
"""More lines than this list their names at the right instead (a legend that scrolls), so the plot keeps its
height; a chart with a right-hand axis keeps its legend above."""
TOOLBAR_PX = 28
"""The band at a chart's top kept free above a legend: plotly's modebar and Streamlit's element toolbar show
there, at the right, while the pointer is over the chart, and would cover the legend's last entries."""
BOTTOM_PX = 50
"""Tick labels and the axis title under the plot."""

RIGHT_AXIS = {"overlaying": "y", "side": "right", "showgrid": False, "tickmode": "auto"}
"""A second y axis at the right with round ticks of its own: Streamlit's plotly theme syncs a second axis's ticks to
the first's grid lines, which reads 0.050778, 0.051015… for a standard deviation beside a norm."""


def place_legend(figure: go.Figure, plot_px: int, *, right_axis: bool = False, name_one: bool = False) -> None:
    """Size the figure around a plot of ``plot_px`` so that its legend, axis titles and tick labels never overlap:
    a legend of a few entries above the plot in rows of its own, of many entries at the right; one line needs
    none (its axis says what it is) unless ``name_one`` (its axis does not: one phase of a stacked bar)."""
    entries = sum(1 for trace in figure.data if trace.name and trace.showlegend is not False)
    if entries > LEGEND_ABOVE_UP_TO and not right_axis:
        figure.update_layout(
            height=plot_px + 10 + BOTTOM_PX,
            margin={"t": 10, "b": BOTTOM_PX},
            legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"},
        )
        return
    shown = entries > 1 or (name_one and entries == 1)
    top = TOOLBAR_PX + LEGEND_ROW_PX * legend_rows(figure) if shown else 10
    figure.update_layout(
        height=plot_px + top + BOTTOM_PX,
        margin={"t": top, "b": BOTTOM_PX},
        showlegend=shown,
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
    )


def legend_rows(figure: go.Figure) -> int:
    """The rows a horizontal legend of the figure's named traces takes in a half-width chart."""
    names = [str(trace.name) for trace in figure.data if trace.name and trace.showlegend is not False]
    if not names:
        return 0
    widest = LEGEND_ENTRY_PX + LEGEND_CHAR_PX * max(len(name) for name in names)
    return math.ceil(len(names) / max(1, LEGEND_WIDTH_PX // widest))


def points_per_line(lines: int) -> int:
    """How many points each of ``lines`` lines may keep so that the chart stays within SVG_POINTS_PER_CHART."""
    return max(MIN_POINTS_PER_LINE, SVG_POINTS_PER_CHART // max(1, lines))


def line_mode(points: int, *, markers: bool = False) -> str:
    """ "lines", or "lines+markers" where asked or where there are too few points for a line to be seen."""
    return "lines+markers" if markers or points <= MARKERS_UP_TO else "lines"


def time_axis(figure: go.Figure, times: Iterable[datetime], pad: timedelta, **where: Any) -> None:
    """Make the x axis a date axis whose hover reads in UTC and whose ticks are one line of clock time (plotly's
    own add a second line with the date, under which a legend would sit), with ``pad`` either side of a lone
    time (also where several points share it). ``where`` picks the axis of a subplot (``row=2, col=1``)."""
    figure.update_xaxes(type="date", hoverformat=TIME_FORMAT, tickformat=TICK_FORMAT, **where)
    distinct = set(times)
    if len(distinct) == 1:
        (only,) = distinct
        figure.update_xaxes(range=[only - pad, only + pad], **where)


def flat_range(values: Sequence[float], *, log: bool = False) -> list[float] | None:
    """A y range that shows a constant line at a readable height (0 to twice it, or a decade either side on a
    log axis); None where the values vary or there are none, so plotly's own range stays."""
    finite = {float(v) for v in values if math.isfinite(v) and (v > 0 or not log)}
    if len(finite) != 1:
        return None
    (value,) = finite
    if log:
        return [math.log10(value) - 1, math.log10(value) + 1]
    if value == 0:
        return None  # plotly's -1..1 is right for a line at 0
    return sorted([0.0, 2 * value])


def y_values(figure: go.Figure, axis: str = "y") -> list[float]:
    """Every y value the figure's traces on ``axis`` draw (None and NaN left out by flat_range)."""
    values: list[float] = []
    for trace in figure.data:
        if (getattr(trace, "yaxis", None) or "y") == axis and trace.y is not None:
            values += [float(v) for v in trace.y if v is not None]
    return values


def fit_flat_lines(figure: go.Figure, *, log: bool = False) -> None:
    """Give a figure whose lines are all one constant value an axis around it (see flat_range)."""
    fitted = flat_range(y_values(figure), log=log)
    if fitted is not None:
        figure.update_yaxes(range=fitted)


def period_bars(figure: go.Figure, period: timedelta) -> None:
    """Place a time chart's bars side by side within their period, from its start (CloudWatch stamps a period
    with its start): plotly sizes bars on a date axis by the two closest times, so a lone period's bars would
    be a millisecond wide, i.e. invisible."""
    bars = [trace for trace in figure.data if trace.type == "bar"]
    width_ms = period.total_seconds() * 1000 * BARS_SHARE / max(1, len(bars))
    for i, trace in enumerate(bars):
        trace.update(width=width_ms, offset=i * width_ms)
