"""Charts for predictions."""

import plotly.graph_objects as go

from app.widgets.formatting import percent
from services.evaluation.breed_names import display
from services.serving.prediction import BreedScore

BAR_HEIGHT_PX = 28
"""One bar's share of the chart's height, so five bars read alike whatever the page's width."""


def top_breeds_chart(breeds: list[BreedScore]) -> go.Figure:
    """Horizontal bars, best breed on top, each labelled with its name and confidence. Names are never cut
    short: the left margin grows to fit the longest ("Nova Scotia Duck Tolling Retriever")."""
    names = [display(b.label) for b in breeds]
    figure = go.Figure(
        go.Bar(
            x=[b.score for b in breeds],
            y=names,
            orientation="h",
            text=[percent(b.score) for b in breeds],
            textposition="outside",
            cliponaxis=False,  # a 99% label stays readable past the axis' end
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    figure.update_xaxes(title_text="confidence", range=[0, 1], tickformat=".0%", fixedrange=True)
    # Categories run bottom-up by default: reversed, the best breed (given first) is on top.
    figure.update_yaxes(autorange="reversed", automargin=True, fixedrange=True)
    figure.update_layout(height=BAR_HEIGHT_PX * len(breeds) + 90, margin={"t": 10, "r": 40}, showlegend=False)
    return figure
