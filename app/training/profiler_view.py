"""The Profiler tab's charts and tables, and the self-contained HTML report: system use per host (CPU per
core, memory, disk, network, GPU where recorded), step durations with outliers, where the time went, and
ProfilerReport's rules."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.training.debugger_view import COLOURS, HEIGHT_PX, thin
from classifier.recording.reader import Recording
from classifier.rules.profiler_rules import ProfilerRuleResult, UsageRow, outlier_threshold

SYSTEM_VIEWS = {
    "CPU per core (%)": ("cpu", ("CPUUtilization",)),
    "Memory used (%)": ("memory", ("MemoryUsedPercent",)),
    "Disk (bytes/s)": ("disk", ("ReadBytesPerSecond", "WriteBytesPerSecond")),
    "Network (bytes/s)": ("network", ("BytesSentPerSecond", "BytesReceivedPerSecond")),
    "GPU (%)": ("gpu", ("GPUUtilization", "GPUMemoryUtilization")),
}
PHASES = ("initialisation", "data_loading", "forward_backward", "evaluation", "saving")


def _figure(title: str, x_title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        height=HEIGHT_PX,
        margin={"t": 30, "b": 10},
        title={"text": title, "font": {"size": 14}},
        legend={"orientation": "h", "y": -0.3},
    )
    figure.update_xaxes(title_text=x_title)
    return figure


def system_charts(recording: Recording) -> list[go.Figure]:
    """One chart per kind of resource that was recorded, every host's lines on it (seconds since the start)."""
    if not recording.system:
        return []
    start = min(float(s.steps[0]) for s in recording.system.values() if len(s.steps))
    figures = []
    for title, (kind, dimensions) in SYSTEM_VIEWS.items():
        keys = sorted(k for k in recording.system if k[1] == kind and k[3] in dimensions)
        if not keys:
            continue
        figure = _figure(title, "seconds since the first sample")
        for i, key in enumerate(keys):
            node, _, name, dimension = key
            steps, values = thin(recording.system[key])
            label = f"{node} {name}" if kind in ("cpu", "gpu") else f"{node} {dimension}"
            if kind == "gpu":
                label += f" {dimension}"
            figure.add_trace(
                go.Scattergl(
                    x=steps - start, y=values, name=label, mode="lines", line={"color": COLOURS[i % len(COLOURS)]}
                )
            )
        figures.append(figure)
    return figures


def step_histogram(recording: Recording, stddev: float = 3.0) -> tuple[go.Figure | None, int]:
    """Step durations as a histogram with StepOutlier's threshold marked, and how many steps exceed it."""
    series = recording.series("Timing/step_s")
    if series is None or len(series.values) < 2:
        return None, 0
    durations = series.values[np.isfinite(series.values)] * 1000
    threshold = outlier_threshold(durations, stddev)
    figure = _figure("Step durations", "milliseconds")
    figure.add_trace(go.Histogram(x=durations, nbinsx=60, name="steps", marker={"color": COLOURS[0]}))
    figure.add_vline(x=threshold, line={"color": "crimson", "dash": "dot"}, annotation_text=f"mean + {stddev:g} sd")
    figure.update_yaxes(type="log", title_text="steps")
    return figure, int((durations > threshold).sum())


def phase_table(recording: Recording) -> pd.DataFrame:
    """Seconds per phase per host, and each phase's share of that host's recorded time."""
    rows: dict[tuple[str, str], float] = {}
    for record in recording.records("phase"):
        key = (str(record.get("NodeId", "")), str(record.get("Phase", "")))
        rows[key] = rows.get(key, 0.0) + float(record.get("Seconds", 0.0))
    frame = pd.DataFrame([{"host": h, "phase": p, "seconds": round(s, 2)} for (h, p), s in rows.items()])
    if frame.empty:
        return frame
    totals = frame.groupby("host")["seconds"].transform("sum")
    frame["share"] = (frame["seconds"] / totals.where(totals > 0, 1)).map("{:.0%}".format)
    order = {p: i for i, p in enumerate(PHASES)}
    return frame.sort_values(["host", "phase"], key=lambda c: c.map(order) if c.name == "phase" else c)


def phase_chart(table: pd.DataFrame) -> go.Figure | None:
    if table.empty:
        return None
    figure = _figure("Where the time went", "seconds")
    for i, phase in enumerate(p for p in PHASES if p in set(table["phase"])):
        part = table[table["phase"] == phase]
        figure.add_trace(
            go.Bar(y=part["host"], x=part["seconds"], name=phase, orientation="h", marker={"color": COLOURS[i]})
        )
    figure.update_layout(barmode="stack")
    return figure


def profiler_table(results: list[ProfilerRuleResult]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "rule": r.rule,
                "times triggered": r.triggered,
                "data points checked": r.checked,
                "details": r.details,
                "recommendation": r.recommendation,
                "parameters": ", ".join(f"{k}={v}" for k, v in r.parameters.items() if v != ""),
            }
            for r in results
        ]
    )


def usage_table(rows: list[UsageRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"host": r.node, "metric": r.metric, "unit": r.unit, "p50": r.p50, "p95": r.p95, "p99": r.p99, "max": r.max}
            for r in rows
        ]
    )


def html_report(job_name: str, recording: Recording, results: list[ProfilerRuleResult], usage: list[UsageRow]) -> str:
    """A report a person can read without the dashboard: one HTML file with plotly inlined once."""
    sections = [
        f"<h1>Profiler report: {html.escape(job_name)}</h1>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} from the job's own recording.</p>",
        "<h2>Rules</h2>",
        profiler_table(results).to_html(index=False, escape=True),
        "<h2>Where the time went</h2>",
        phase_table(recording).to_html(index=False, escape=True),
        "<h2>System usage per host</h2>",
        usage_table(usage).to_html(index=False, escape=True, float_format="{:.1f}".format),
    ]
    histogram, outliers = step_histogram(recording)
    figures = [f for f in (*system_charts(recording), histogram) if f is not None]
    if histogram is not None:
        sections.append(f"<p>{outliers} step(s) beyond mean + 3 standard deviations.</p>")
    for i, figure in enumerate(figures):
        sections.append(figure.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False))
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Profiler report {html.escape(job_name)}</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )
