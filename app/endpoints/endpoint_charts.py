"""Charts of an endpoint variant's CloudWatch metrics (traffic, latency, errors, CPU) and of a load test."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.widgets.charts import time_axis
from services.serving.endpoint_metrics import MetricSeries, VariantMetrics
from services.serving.load_test import LoadSnapshot

CHART_HEIGHT_PX = 260


def _figure(lines: list[tuple[str, MetricSeries, float]], y_title: str, period_s: float) -> go.Figure:
    """Lines over time; a lone datapoint is shown with a period either side (not zoomed to a millisecond)."""
    figure = go.Figure()
    for name, series, scale in lines:
        figure.add_trace(
            go.Scatter(x=series.timestamps, y=[v * scale for v in series.values], mode="lines+markers", name=name)
        )
    figure.update_yaxes(title_text=y_title, rangemode="tozero")
    figure.update_layout(
        height=CHART_HEIGHT_PX, margin={"t": 10, "b": 10, "l": 10, "r": 10}, legend={"orientation": "h", "y": -0.25}
    )
    time_axis(figure, [t for _, series, _ in lines for t in series.timestamps], timedelta(seconds=period_s))
    return figure


def traffic_chart(metrics: VariantMetrics) -> go.Figure:
    s = metrics.series
    return _figure(
        [("invocations", s["invocations"], 1.0), ("invocations per instance", s["per_instance"], 1.0)],
        f"requests per {metrics.period_s} s",
        metrics.period_s,
    )


def latency_chart(metrics: VariantMetrics) -> go.Figure:
    """Milliseconds (SageMaker reports microseconds)."""
    s = metrics.series
    return _figure(
        [
            ("model p50", s["model_p50"], 1e-3),
            ("model p99", s["model_p99"], 1e-3),
            ("overhead p50", s["overhead_p50"], 1e-3),
            ("overhead p99", s["overhead_p99"], 1e-3),
        ],
        "ms",
        metrics.period_s,
    )


def errors_chart(metrics: VariantMetrics) -> go.Figure:
    s = metrics.series
    lines = [("4xx", s["errors_4xx"], 1.0), ("5xx", s["errors_5xx"], 1.0)]
    return _figure(lines, f"errors per {metrics.period_s} s", metrics.period_s)


def cpu_chart(metrics: VariantMetrics) -> go.Figure:
    return _figure([("CPU per instance", metrics.series["cpu"], 1.0)], "% (summed over cores)", metrics.period_s)


def load_test_chart(snapshot: LoadSnapshot) -> go.Figure:
    """Per second of a load test: requests answered, throttled and failed, and instances serving above; latency
    below."""
    seconds = snapshot.seconds
    t = [s.t for s in seconds]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    figure.add_trace(go.Scatter(x=t, y=[s.answered for s in seconds], name="requests/s", mode="lines"), row=1, col=1)
    figure.add_trace(go.Scatter(x=t, y=[s.throttled for s in seconds], name="throttled/s", mode="lines"), row=1, col=1)
    figure.add_trace(go.Scatter(x=t, y=[s.errors for s in seconds], name="errors/s", mode="lines"), row=1, col=1)
    figure.add_trace(
        go.Scatter(x=t, y=[s.instances for s in seconds], name="instances", mode="lines", line={"shape": "hv"}),
        row=1,
        col=1,
    )
    figure.add_trace(go.Scatter(x=t, y=[s.p50_ms for s in seconds], name="p50 ms", mode="lines"), row=2, col=1)
    figure.add_trace(go.Scatter(x=t, y=[s.p99_ms for s in seconds], name="p99 ms", mode="lines"), row=2, col=1)
    figure.update_xaxes(title_text="seconds since start", row=2, col=1)
    figure.update_yaxes(rangemode="tozero")
    figure.update_layout(
        height=420, margin={"t": 10, "b": 10, "l": 10, "r": 10}, legend={"orientation": "h", "y": -0.2}
    )
    return figure
