"""Class names for the ImageNet head and the Udacity dogImages classes, read from files shipped inside
the package so a model.tar.gz needs nothing else."""

from functools import cache
from pathlib import Path

_DATA = Path(__file__).resolve().parent / "data"

IMAGENET_DOG_CLASSES = range(151, 269)
"""ImageNet-1k indices (0-based) that are dog breeds: Chihuahua … Mexican hairless."""


@cache
def _read_lines(name: str) -> tuple[str, ...]:
    text = (_DATA / name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names by index, spaces turned into underscores (``Labrador_retriever``)
    so they match the Udacity naming style and read as one token in logs."""
    return [line.replace(" ", "_") for line in _read_lines("imagenet_1000.txt")]


def udacity_labels() -> list[str]:
    """The 133 Udacity dogImages class names by index without the ``NNN.`` folder prefix."""
    return [line.split(".", 1)[1] for line in _read_lines("udacity_dogimages_133.txt")]
