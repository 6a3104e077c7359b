"""The "why this breed" chart: the photo with the occlusion heat laid over it."""

import base64

import numpy as np
import plotly.graph_objects as go

from services.evaluation.breed_names import display
from services.serving.explanation import Explanation
from services.serving.occlusion import cell_edges

PHOTO_WIDTH_PX = 340
"""The photo's width on the page (it fits the result column beside the photo); the height follows from the
photo's aspect, so the photo is never stretched."""
COLOUR_BAR_PX = 100

HEAT_COLOURS = [
    [0.0, "rgba(33, 102, 172, 0.75)"],  # covering it raised the score
    [0.5, "rgba(255, 255, 255, 0)"],  # no effect: the photo shows through
    [1.0, "rgba(178, 24, 43, 0.8)"],  # covering it lowered the score: the model looked here
]


def heat_overlay_chart(explanation: Explanation) -> go.Figure:
    """The photo in its own pixels with a semi-transparent heat map on top: red where covering a patch
    lowered the breed's score, blue where it raised it, clear where it did nothing. Cells no answer covered
    (a map cut short) stay clear."""
    heat = explanation.heat
    finite = heat[np.isfinite(heat)]
    reach = max(float(np.abs(finite).max()) if finite.size else 0.0, 0.01)  # symmetric: white means zero
    source = "data:image/jpeg;base64," + base64.b64encode(explanation.photo).decode("ascii")
    z = [[None if not np.isfinite(value) else float(value) for value in row] for row in heat]
    figure = go.Figure(
        [
            go.Image(source=source, hoverinfo="skip"),
            go.Heatmap(
                z=z,
                x=cell_edges(explanation.width, explanation.grid),
                y=cell_edges(explanation.height, explanation.grid),
                zmin=-reach,
                zmax=reach,
                colorscale=HEAT_COLOURS,
                colorbar={
                    "title": {"text": "drop in score<br>when covered", "side": "right"},
                    "tickformat": "+.0%",
                    "thickness": 14,
                },
                hovertemplate="drop in score when covered: %{z:+.1%}<extra></extra>",
                hoverongaps=False,
                name=display(explanation.label),
            ),
        ]
    )
    height = round(PHOTO_WIDTH_PX * explanation.height / explanation.width)
    figure.update_xaxes(visible=False, range=[0, explanation.width], constrain="domain", fixedrange=True)
    figure.update_yaxes(
        visible=False, range=[explanation.height, 0], scaleanchor="x", constrain="domain", fixedrange=True
    )
    figure.update_layout(
        width=PHOTO_WIDTH_PX + COLOUR_BAR_PX, height=height + 20, margin={"l": 0, "r": 0, "t": 10, "b": 10}
    )
    return figure
