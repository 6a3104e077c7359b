"""Axes and traces that read right (app/widgets/charts.py and the charts built on it): time axes that are dates in
UTC with room around a lone datapoint, bars that fill their period, a flat line at a readable height, SVG traces
within a point budget, a step histogram whose buckets of one step show, rounded usage, scaling times in the
dashboard's form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.endpoints.endpoint_charts import traffic_chart
from app.endpoints.scaling_panel import activities_frame
from app.functions.lambda_charts import metric_charts
from app.training.debugger_view import debugger_charts, loss_chart
from app.training.profiler_view import phase_chart, step_histogram, system_charts, usage_table
from app.widgets.charts import LEGEND_ROW_PX, SVG_POINTS_PER_CHART, TOOLBAR_PX, flat_range, legend_rows
from classifier.recording.reader import Recording, Series
from classifier.rules.system_data import UsageRow
from services.functions.invocation_metrics import SPECS, FunctionMetrics
from services.functions.invocation_metrics import Series as FunctionSeries
from services.serving.endpoint_metrics import SERIES, MetricSeries, VariantMetrics
from services.serving.scaling import Activity

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def one_period(period_s: int = 60) -> FunctionMetrics:
    """A function called in one period of the window: one datapoint a metric."""
    series = {
        s.key: FunctionSeries(s.key, s.label, s.unit, [T0] if s.key in ("invocations", "concurrent") else [], [])
        for s in SPECS
    }
    series["invocations"].values.append(3.0)
    series["concurrent"].values.append(1.0)
    return FunctionMetrics("f", None, T0 - timedelta(hours=1), T0 + timedelta(minutes=1), period_s, series)


def test_lambda_metrics_are_on_a_time_axis_and_one_period_is_shown_with_room() -> None:
    charts = dict(metric_charts(one_period()))
    calls, concurrency = charts["Calls"], charts["Concurrency"]
    assert calls.data[0].x == (T0,)  # a time, not the formatted string plotly would take as a category
    for figure in (calls, concurrency):
        assert figure.layout.xaxis.type == "date"
        assert list(figure.layout.xaxis.range) == [T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)]
        assert figure.layout.xaxis.hoverformat == "%Y-%m-%d %H:%M:%S UTC"
    (bars,) = calls.data
    assert (bars.width, bars.offset) == (48_000, 0)  # 80 % of the 60 s period, from its start: not 1 ms wide


def test_an_endpoint_chart_with_one_datapoint_is_not_zoomed_to_a_millisecond() -> None:
    series = {key: MetricSeries() for key in SERIES}
    series["invocations"] = MetricSeries([T0], [12.0])
    figure = traffic_chart(VariantMetrics("e", "AllTraffic", 60, series))
    assert list(figure.layout.xaxis.range) == [T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)]
    assert figure.layout.xaxis.tickformat == "%H:%M:%S"  # one line of clock time: no date line under the legend


def test_scaling_activity_times_read_as_every_time_on_the_dashboard() -> None:
    done = Activity(
        "Setting desired instance count to 2.", "monitor alarm", "Successful", T0, T0 + timedelta(0, 75), ""
    )
    running = Activity("Setting desired instance count to 1.", "scheduled", "InProgress", T0, None, "")
    frame = activities_frame([done, running])
    assert list(frame["start"]) == ["2026-11-29 08:00:00 UTC"] * 2
    assert list(frame["end"]) == ["2026-11-29 08:01:15 UTC", ""]


@given(value=st.floats(min_value=1e-9, max_value=1e6))
def test_a_flat_line_gets_an_axis_around_its_value(value: float) -> None:
    low, high = flat_range([value] * 5)
    assert low <= value <= high and high - low == pytest.approx(2 * value)  # 0..2v: the line mid-axis, not -1..1
    low, high = flat_range([value, float("nan")], log=True)
    assert low < np.log10(value) < high
    assert flat_range([value, value * 2]) is None  # a line that moves keeps plotly's own range


def long_run(steps: int = 20_000, layers: int = 40) -> Recording:
    index = np.arange(steps)
    rng = np.random.default_rng(0)
    scalars = {
        "Loss/train": Series(index, 3 * np.exp(-index / 5000) + rng.normal(0, 0.1, steps)),
        "Accuracy/train": Series(index, rng.uniform(0, 1, steps)),
        "LearningRate/group0": Series(index, np.full(steps, 0.001)),
        "Loss/valid": Series(index[999::1000], np.linspace(2.5, 0.5, steps // 1000)),
    }
    for layer in range(layers):
        scalars[f"GradientNorm/layer{layer}"] = Series(index, rng.lognormal(-2, 0.5, steps))
        scalars[f"UpdateRatio/layer{layer}"] = Series(index[::100], rng.lognormal(-7, 0.3, steps // 100))
    return Recording(scalars=scalars)


def test_every_debugger_chart_is_svg_within_the_point_budget() -> None:
    recording = long_run()
    charts = {c.title: c.figure for c in (loss_chart(recording, []), *debugger_charts(recording)) if c.figure}
    assert len(charts) == 5
    for title, figure in charts.items():
        assert {trace.type for trace in figure.data} <= {"scatter"}, title
        assert sum(len(trace.x) for trace in figure.data) <= SVG_POINTS_PER_CHART, title
        assert not figure.layout.title.text, title  # the page titles it: nothing up there for the legend to cover
    rate = charts["Learning rate"]
    assert rate.layout.yaxis.type == "log" and list(rate.layout.yaxis.range) == pytest.approx([-4, -2])
    gradients = charts["Gradient norm per layer"]  # 40 layers: named at the right, the plot keeps its height
    assert (gradients.layout.legend.orientation, gradients.layout.legend.x) == ("v", 1.02)
    loss = charts["Loss"]  # two lines: a legend row above the plot, in a top margin made for it and the toolbars
    assert (loss.layout.legend.y, loss.layout.legend.yanchor) == (1.02, "bottom")
    assert loss.layout.margin.t >= TOOLBAR_PX + LEGEND_ROW_PX


def test_a_right_hand_axis_has_round_ticks_of_its_own() -> None:
    """Streamlit's theme syncs a second y axis to the first's grid, ticking a standard deviation at 0.050778…;
    the weights chart and Lambda's utilisation ask for their own ticks."""
    steps = np.array([0, 25, 50])
    recording = Recording(
        scalars={
            "WeightNorm/head": Series(steps, np.array([20.9, 21.7, 22.6])),
            "WeightStd/head": Series(steps, np.array([0.0508, 0.0514, 0.0526])),
        }
    )
    weights = next(c.figure for c in debugger_charts(recording) if c.title.startswith("Weights per layer"))
    assert weights.layout.yaxis2.tickmode == "auto" and weights.layout.yaxis2.overlaying == "y"
    metrics = one_period()
    metrics.series["provisioned_utilization"].timestamps.append(T0)
    metrics.series["provisioned_utilization"].values.append(0.5)
    provisioned = dict(metric_charts(metrics))["Provisioned"]
    assert provisioned.layout.yaxis2.tickmode == "auto" and provisioned.layout.yaxis2.tickformat == ".0%"


def test_where_the_time_went_names_its_phase_while_only_one_is_recorded() -> None:
    """Early in a run only initialisation is recorded: one bar, whose axes (seconds, host) do not say what it is."""
    early = pd.DataFrame([{"host": "algo-1", "phase": "initialisation", "seconds": 2.6, "share": "100%"}])
    chart = phase_chart(early)
    assert chart is not None and chart.figure.layout.showlegend is True
    assert [trace.name for trace in chart.figure.data] == ["initialisation"]
    assert chart.figure.layout.margin.t >= 32  # a row above the plot for it
    rate = next(c.figure for c in debugger_charts(long_run(200, 1)) if c.title == "Learning rate")
    assert rate.layout.showlegend is False  # one line of a named axis still needs none


def test_a_legend_of_long_names_gets_the_rows_it_wraps_into_below_the_toolbars() -> None:
    """Five phases in a half-width chart: "forward_backward" makes the columns wide, two to a row, three rows
    (counted as three to a row, the legend outgrew its margin and ran under the hover toolbar)."""
    phases = ["initialisation", "data_loading", "forward_backward", "evaluation", "saving"]
    table = pd.DataFrame([{"host": "algo-1", "phase": p, "seconds": 1.0, "share": "20%"} for p in phases])
    chart = phase_chart(table)
    assert chart is not None and legend_rows(chart.figure) == 3
    assert chart.figure.layout.margin.t == TOOLBAR_PX + 3 * LEGEND_ROW_PX


def test_system_charts_are_svg_and_the_step_histogram_shows_a_bucket_of_one() -> None:
    durations = np.r_[np.full(999, 0.010), 0.500]  # a thousand ordinary steps and one slow one
    system = {
        ("algo-1", "cpu", f"cpu{i}", "CPUUtilization"): Series(np.arange(5000.0), np.full(5000, 50.0)) for i in range(4)
    }
    recording = Recording(scalars={"Timing/step_s": Series(np.arange(1000), durations)}, system=system)
    (cpu,) = system_charts(recording)
    assert cpu.title == "CPU per core (%)" and {trace.type for trace in cpu.figure.data} == {"scatter"}
    chart, outliers = step_histogram(recording)
    figure = chart.figure
    (bars,) = figure.data
    assert outliers == 1 and np.nanmax(bars.y) == 999 and np.nanmin(bars.y) == 1
    low, _ = figure.layout.yaxis.range
    assert figure.layout.yaxis.type == "log" and low < 0  # log10(1) = 0: a bar of one step rises above the axis
    assert list(figure.layout.yaxis.tickvals) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]  # counts, not 0.5


def test_usage_is_rounded_to_what_a_reader_uses() -> None:
    frame = usage_table([UsageRow("algo-1", "network", "bytes/s", 146242.0751, 15.188, 0.04449, 2e6 + 0.5)])
    assert list(frame.iloc[0][["p50", "p95", "p99", "max"]]) == [146242.0, 15.2, 0.044, 2000000.0]
