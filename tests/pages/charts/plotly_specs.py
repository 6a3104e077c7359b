"""The plotly charts a page sent, as the browser gets them (for page tests that check what a chart draws)."""

from __future__ import annotations

import json
from typing import Any

WEBGL_TRACES = frozenset(
    {
        "scattergl",
        "scatterpolargl",
        "splom",
        "parcoords",
        "scatter3d",
        "surface",
        "mesh3d",
        "cone",
        "streamtube",
        "volume",
        "isosurface",
        "scattermap",
        "choroplethmap",
        "densitymap",
        "scattermapbox",
        "choroplethmapbox",
        "densitymapbox",
    }
)
"""plotly.js trace types drawn with WebGL: each chart holding one takes one or more of the browser's WebGL
contexts (Chromium keeps 16 a page and drops the oldest)."""


def chart_specs(at: Any) -> list[dict[str, Any]]:
    """Every plotly chart on the page: its figure as JSON (data and layout)."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def by_title(at: Any) -> dict[str, dict[str, Any]]:
    """The Debugger and Profiler tabs' charts by the title the page shows above each (their keys end in
    ``_chart_<title>``)."""
    return {
        chart.proto.id.rsplit("_chart_", 1)[1]: json.loads(chart.proto.spec)
        for chart in at.get("plotly_chart")
        if "_chart_" in chart.proto.id
    }


def webgl_charts(at: Any) -> list[str]:
    """The page's charts that need WebGL, named by their element id."""
    found = []
    for chart in at.get("plotly_chart"):
        types = {trace.get("type", "scatter") for trace in json.loads(chart.proto.spec).get("data", [])}
        if types & WEBGL_TRACES:
            found.append(chart.proto.id)
    return found
