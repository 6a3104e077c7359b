"""Charts for predictions."""

import altair as alt
import pandas as pd

from app.formatting import breed, percent
from services.prediction import BreedScore


def top_breeds_chart(breeds: list[BreedScore]) -> alt.Chart:
    """Horizontal bars, best breed on top, each labelled with its name and confidence. Names are never cut
    short (Vega-Lite's default 180 px label limit turned "Nova Scotia Duck Tolling Retriever" into "Nova
    Scotia Duck Tolli…")."""
    data = pd.DataFrame(
        {
            "breed": [breed(b.label) for b in breeds],
            "score": [b.score for b in breeds],
            "label": [percent(b.score) for b in breeds],
        }
    )
    order = list(data["breed"])
    base = alt.Chart(data).encode(
        y=alt.Y("breed:N", sort=order, title=None, axis=alt.Axis(labelLimit=0)),  # 0: no limit
        x=alt.X("score:Q", title="confidence", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("breed:N"), alt.Tooltip("score:Q", format=".1%")],
    )
    bars = base.mark_bar()
    labels = base.mark_text(align="left", dx=4).encode(text="label:N")
    return (bars + labels).properties(height=alt.Step(28))
