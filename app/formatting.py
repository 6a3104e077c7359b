"""How numbers and names read on the pages."""

from services.prediction import Prediction


def ms(value: float) -> str:
    """Milliseconds without false precision: `0.8 ms`, `23 ms`, `1.24 s`."""
    if value < 10:
        return f"{value:.1f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def percent(value: float) -> str:
    """A 0–1 score as a percentage: `91%`, or `0.4%` for small ones that would otherwise read as 0."""
    return f"{value * 100:.0f}%" if value >= 0.01 else f"{value * 100:.1f}%"


def size(num_bytes: int) -> str:
    """Bytes in binary units, as AWS states its limits (6 MB = 6 × 1024 × 1024 bytes)."""
    if num_bytes < 1024:
        return f"{num_bytes} B"
    if num_bytes < 1024 * 1024:
        return f"{num_bytes / 1024:.0f} KB"
    return f"{num_bytes / (1024 * 1024):.1f} MB"


def breed(label: str) -> str:
    """Model labels use underscores (`Labrador_retriever`); people read spaces."""
    return label.replace("_", " ")


def verdict(prediction: Prediction) -> str:
    """The one-line answer shown above the chart."""
    if prediction.is_dog is False:
        score = f" (dog score {percent(prediction.dog_score)})" if prediction.dog_score is not None else ""
        return f"Not a dog{score}"
    if not prediction.breeds:
        return "The model returned no breeds"
    best = prediction.breeds[0]
    if prediction.is_dog is None:  # the model does not tell dogs from other images
        return f"Breed: {breed(best.label)} ({percent(best.score)})"
    return f"Dog: {breed(best.label)} ({percent(best.score)})"


def latency(prediction: Prediction) -> str:
    """`round trip 23 ms · model 9 ms`; through Lambda the second figure is the function's own duration."""
    parts = [f"round trip {ms(prediction.round_trip_ms)}"]
    if prediction.model_ms is not None:
        name = "function" if prediction.via == "lambda" else "model"
        parts.append(f"{name} {ms(prediction.model_ms)}")
    return " · ".join(parts)
