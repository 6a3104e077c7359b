"""How numbers, names and times read on the pages."""

import re
from datetime import UTC, datetime

from services.evaluation.breed_names import display
from services.serving.photo_checks import format_size
from services.serving.prediction import Prediction

size = format_size  # one size format for the pages, the service's notes and Streamlit's file uploader

MISSING = "—"
"""What a table cell shows for a value that is not there (a metric a job never logged); Streamlit writes None."""
SMALLEST_PERCENT = 0.0001
"""Scores below this many percent read as `< 0.0001%` (softmax tails go down to 1e-10 and beyond)."""
_BACKTICKS = re.compile(r"`+")


def ms(value: float) -> str:
    """Milliseconds without false precision: `0.8 ms`, `23 ms`, `1.24 s`."""
    if value < 10:
        return f"{value:.1f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def percent(value: float) -> str:
    """A 0–1 score as a percentage: `91%`; under 1 % with two significant digits (`0.4%`, `0.0031%`), so a
    breed a cat scores low still shows its real value instead of reading as 0; `< 0.0001%` below that."""
    shown = value * 100
    if shown >= 1:
        return f"{shown:.0f}%"
    if shown <= 0:
        return "0%"
    if shown < SMALLEST_PERCENT:
        return f"< {SMALLEST_PERCENT:g}%"
    return f"{float(f'{shown:.2g}'):g}%"


def per_hour(usd: float | None) -> str:
    """An hourly rate: `$0.230/h`, or "price unknown" for a type the dashboard has no list price for."""
    return "price unknown" if usd is None else f"${usd:,.3f}/h"


def timestamp(value: datetime | None) -> str:
    """Every time on the dashboard in one form, in UTC (what AWS consoles and logs show):
    `2026-05-09 07:35:25 UTC`; "" for none. A naive value is taken as UTC already."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def literal(text: str) -> str:
    """`text` as Markdown inline code, so a URL the cloud refused is shown, not linked (Markdown would turn
    `http://10.0.0.1/x` into a link the visitor's browser follows)."""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def verdict(prediction: Prediction) -> str:
    """The one-line answer shown above the chart."""
    if prediction.is_dog is False:
        score = f" (dog score {percent(prediction.dog_score)})" if prediction.dog_score is not None else ""
        return f"Not a dog{score}"
    if not prediction.breeds:
        return "The model returned no breeds"
    best = prediction.breeds[0]
    if prediction.is_dog is None:  # the model does not tell dogs from other images
        return f"Breed: {display(best.label)} ({percent(best.score)})"
    return f"Dog: {display(best.label)} ({percent(best.score)})"


def latency(prediction: Prediction, *, cached: bool = False) -> str:
    """`round trip 23 ms · model 9 ms`; through Lambda the second figure is the function's own duration, and a
    cold start adds its init duration (why a first call takes ten times longer). A remembered answer says
    so and when it was measured: its figures are that call's, not a new one's."""
    parts = [f"round trip {ms(prediction.round_trip_ms)}"]
    if prediction.model_ms is not None:
        name = "function" if prediction.via == "lambda" else "model"
        parts.append(f"{name} {ms(prediction.model_ms)}")
    if prediction.init_ms is not None:
        parts.append(f"cold start: init {ms(prediction.init_ms)}")
    if cached:
        parts.append(f"cached, measured {timestamp(prediction.measured_at)}")
    return " · ".join(parts)
