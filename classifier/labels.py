"""Class names for the ImageNet head and the Udacity dogImages classes, read from files shipped inside
the package so a model.tar.gz needs nothing else."""

from functools import cache
from pathlib import Path

_DATA = Path(__file__).resolve().parent / "data"

DEFAULT_MODEL_NAME = "dog-breed-efficientnet-lite0"
"""The name a model archive carries when its builder gives none (`model.json`)."""

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


def udacity_folders() -> list[str]:
    """The 133 Udacity dogImages class folder names (``001.Affenpinscher``) in index order."""
    return list(_read_lines("udacity_dogimages_133.txt"))


def udacity_labels() -> list[str]:
    """The 133 Udacity dogImages class names by index without the ``NNN.`` folder prefix."""
    return [folder.split(".", 1)[1] for folder in udacity_folders()]


def udacity_imagenet_indices() -> list[tuple[int, ...]]:
    """For each Udacity class in index order, the ImageNet-1k indices of the same breed (empty when
    ImageNet lacks it; several when ImageNet splits it, like the three poodle sizes)."""
    by_folder: dict[str, tuple[int, ...]] = {}
    for row in _read_lines("udacity_to_imagenet.csv")[1:]:  # header: udacity_class,imagenet_indices
        folder, _, indices = row.partition(",")
        by_folder[folder] = tuple(int(i) for i in indices.split())
    return [by_folder.get(folder, ()) for folder in udacity_folders()]
