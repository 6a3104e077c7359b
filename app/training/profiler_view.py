"""The Profiler tab's charts and tables, and the self-contained HTML report: system use per host (CPU per
core, memory, disk, network, GPU where recorded), step durations with outliers, where the time went, and
ProfilerReport's rules. Charts are SVG with the legend under the plot (app/widgets/charts.py says why)."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.training.debugger_view import COLOURS, PLOT_PX, Chart, thin
from app.widgets.charts import line_mode, place_legend, points_per_line
from classifier.recording.reader import Recording
from classifier.rules.profiler_rules import ProfilerRuleResult, UsageRow, outlier_threshold
from services.core.pricing import INSTANCE_TYPES

SYSTEM_VIEWS = {
    "CPU per core (%)": ("cpu", ("CPUUtilization",)),
    "Memory used (%)": ("memory", ("MemoryUsedPercent",)),
    "Disk (bytes/s)": ("disk", ("ReadBytesPerSecond", "WriteBytesPerSecond")),
    "Network (bytes/s)": ("network", ("BytesSentPerSecond", "BytesReceivedPerSecond")),
    "GPU (%)": ("gpu", ("GPUUtilization", "GPUMemoryUtilization")),
}
PHASES = ("initialisation", "data_loading", "forward_backward", "evaluation", "saving")
STEP_BINS = 60


def _figure(x_title: str, y_title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(title_text=y_title)
    return figure


def system_charts(recording: Recording) -> list[Chart]:
    """One chart per kind of resource that was recorded, every host's lines on it (seconds since the start)."""
    if not recording.system:
        return []
    start = min(float(s.steps[0]) for s in recording.system.values() if len(s.steps))
    figures = []
    for title, (kind, dimensions) in SYSTEM_VIEWS.items():
        keys = sorted(k for k in recording.system if k[1] == kind and k[3] in dimensions)
        if not keys:
            continue
        figure = _figure("seconds since the first sample", title.split(" (")[-1].rstrip(")"))
        budget = points_per_line(len(keys))
        for i, key in enumerate(keys):
            node, _, name, dimension = key
            steps, values = thin(recording.system[key], budget)
            label = f"{node} {name}" if kind in ("cpu", "gpu") else f"{node} {dimension}"
            if kind == "gpu":
                label += f" {dimension}"
            figure.add_trace(
                go.Scatter(
                    x=steps - start,
                    y=values,
                    name=label,
                    mode=line_mode(len(values)),
                    line={"color": COLOURS[i % len(COLOURS)]},
                )
            )
        place_legend(figure, PLOT_PX)
        figures.append(Chart(title, figure))
    return figures


def step_histogram(recording: Recording, stddev: float = 3.0) -> tuple[Chart | None, int]:
    """Step durations as a histogram with StepOutlier's threshold marked, and how many steps exceed it. The count
    axis is logarithmic, so a few slow steps show beside thousands of ordinary ones; it starts below 1, so a
    bucket of one step still has a visible bar."""
    series = recording.series("Timing/step_s")
    if series is None or len(series.values) < 2:
        return None, 0
    durations = series.values[np.isfinite(series.values)] * 1000
    threshold = outlier_threshold(durations, stddev)
    counts, edges = np.histogram(durations, bins=STEP_BINS)
    figure = _figure("milliseconds", "steps")
    figure.add_trace(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=np.where(counts > 0, counts, np.nan),  # an empty bucket draws nothing (log 0 is undefined)
            width=float(edges[1] - edges[0]),
            customdata=np.stack([edges[:-1], edges[1:]], axis=-1),
            name="steps",
            marker={"color": COLOURS[0]},
            hovertemplate="%{customdata[0]:.1f}–%{customdata[1]:.1f} ms: %{y} step(s)<extra></extra>",
        )
    )
    figure.add_vline(x=threshold, line={"color": "crimson", "dash": "dot"}, annotation_text=f"mean + {stddev:g} sd")
    top = max(2, int(counts.max())) * 2
    ticks = [m * 10**e for e in range(int(math.log10(top)) + 1) for m in (1, 2, 5) if m * 10**e <= top]
    figure.update_yaxes(type="log", range=[math.log10(0.5), math.log10(top)], tickvals=ticks)  # counts: 1, 2, 5, 10…
    figure.update_layout(bargap=0.05)
    place_legend(figure, PLOT_PX)
    return Chart("Step durations", figure), int((durations > threshold).sum())


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


def phase_chart(table: pd.DataFrame) -> Chart | None:
    if table.empty:
        return None
    figure = _figure("seconds", "host")
    for i, phase in enumerate(p for p in PHASES if p in set(table["phase"])):
        part = table[table["phase"] == phase]
        figure.add_trace(
            go.Bar(y=part["host"], x=part["seconds"], name=phase, orientation="h", marker={"color": COLOURS[i]})
        )
    figure.update_layout(barmode="stack")
    place_legend(figure, PLOT_PX, name_one=True)  # while only initialisation is recorded, its bar still says so
    return Chart("Where the time went", figure)


def hosts_note(recording: Recording) -> str | None:
    """What the hosts ran on. localcloud maps an instance's vCPUs onto this machine's cores, so the core counts
    in the charts and rules can be fewer than the type's vCPUs; the note says so instead of leaving an
    ml.m5.xlarge showing 2 cores unexplained."""
    configs = [r for r in recording.records("config") if r.get("InstanceType")]
    if not configs:
        return None
    instance_type, cores = str(configs[-1]["InstanceType"]), int(configs[-1].get("Cores") or 0)
    known = INSTANCE_TYPES.get(instance_type)
    if known is None or not cores:
        return f"Hosts: {instance_type}."
    if cores == known.vcpus:
        return f"Hosts: {instance_type}, {known.vcpus} vCPUs each."
    return (
        f"Hosts: {instance_type} ({known.vcpus} vCPUs on AWS); each ran on {cores} core(s) of this machine, "
        "which the charts and rules count."
    )


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


def readable(value: float) -> float:
    """A measurement without false precision, kept a number so the table still sorts: whole from 100 up
    (146242 bytes/s), one decimal from 1 (15.2 %), two significant digits below (0.044, not a false 0.0)."""
    if not math.isfinite(value) or value == 0:
        return value
    if abs(value) >= 100:
        return float(round(value))
    return round(value, 1) if abs(value) >= 1 else float(f"{value:.2g}")


def usage_table(rows: list[UsageRow]) -> pd.DataFrame:
    """OverallSystemUsage per host and metric: p50, p95, p99 and max, rounded to what a reader can use."""
    return pd.DataFrame(
        [
            {
                "host": r.node,
                "metric": r.metric,
                "unit": r.unit,
                **{name: readable(getattr(r, name)) for name in ("p50", "p95", "p99", "max")},
            }
            for r in rows
        ]
    )


def _report_number(value: float) -> str:
    """The usage table's numbers in the report as in the tab: 146,242, 15.2 and 0.044."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{readable(value):g}"


def _inline(figure: go.Figure | None, *, first: bool) -> str:
    """A chart as an HTML fragment under its heading; the first carries plotly itself, so the file holds it once."""
    if figure is None:
        return ""
    return figure.to_html(full_html=False, include_plotlyjs="inline" if first else False)


def html_report(job_name: str, recording: Recording, results: list[ProfilerRuleResult], usage: list[UsageRow]) -> str:
    """A report a person can read without the dashboard: one HTML file with plotly inlined once."""
    sections = [
        f"<h1>Profiler report: {html.escape(job_name)}</h1>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} from the job's own recording.</p>",
        f"<p>{html.escape(hosts_note(recording) or '')}</p>",
        "<h2>Rules</h2>",
        profiler_table(results).to_html(index=False, escape=True),
        "<h2>Where the time went</h2>",
        phase_table(recording).to_html(index=False, escape=True),
        "<h2>System usage per host</h2>",
        usage_table(usage).to_html(index=False, escape=True, float_format=_report_number),
    ]
    histogram, outliers = step_histogram(recording)
    charts = system_charts(recording)
    if charts:
        sections.append("<h2>System use over time</h2>")
    for i, chart in enumerate([*charts, *([histogram] if histogram else [])]):
        sections += [f"<h3>{html.escape(chart.title)}</h3>", _inline(chart.figure, first=i == 0)]
    if histogram is not None:
        sections.append(f"<p>{outliers} step(s) beyond mean + 3 standard deviations.</p>")
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Profiler report {html.escape(job_name)}</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )
