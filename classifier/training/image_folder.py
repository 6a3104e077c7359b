"""Read a training channel in ImageFolder layout (``train/ valid/ test/``, one ``NNN.Breed`` folder per
class) and map every folder onto its fixed Udacity index, so a dataset missing some classes still
trains the same 133-output model and logit i always means folder i+1.

Pure Python (no torch), so a bad channel is refused before the heavy imports.
"""

from dataclasses import dataclass
from pathlib import Path

from classifier.labels import udacity_folders

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}


class DatasetError(ValueError):
    """The channel cannot be trained on; the message says what is wrong and what layout is expected."""


@dataclass(frozen=True)
class Split:
    """One split: (image path, Udacity class index) pairs in a stable order."""

    name: str
    samples: tuple[tuple[Path, int], ...]

    @property
    def class_count(self) -> int:
        return len({label for _, label in self.samples})


def read_channel(channel: Path) -> dict[str, Split]:
    """All three splits of ``channel``; raises ``DatasetError`` for a missing channel or split, an
    empty split, or a class folder that is not one of the 133 Udacity names."""
    channel = Path(channel)
    if not channel.is_dir():
        raise DatasetError(
            f"The training channel {channel} does not exist; pass --data-dir or set SM_CHANNEL_TRAINING "
            "to a folder holding train/, valid/ and test/."
        )
    return {name: _read_split(channel, name) for name in SPLITS}


def _read_split(channel: Path, name: str) -> Split:
    directory = channel / name
    if not directory.is_dir():
        present = ", ".join(sorted(p.name + "/" for p in channel.iterdir() if p.is_dir())) or "nothing"
        raise DatasetError(
            f"The training channel {channel} has no {name}/ folder (found {present}); it must hold "
            "train/, valid/ and test/, each with one NNN.Breed folder per class (001.Affenpinscher …)."
        )
    index_of = {folder: i for i, folder in enumerate(udacity_folders())}
    samples: list[tuple[Path, int]] = []
    for class_dir in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if class_dir.name not in index_of:
            raise DatasetError(
                f"{name}/{class_dir.name} is not one of the 133 Udacity dogImages classes; class folders "
                "must be named like 001.Affenpinscher … 133.Yorkshire_terrier."
            )
        label = index_of[class_dir.name]
        samples += [(path, label) for path in sorted(class_dir.iterdir()) if _is_image(path)]
    if not samples:
        raise DatasetError(
            f"The {name} split in {directory} holds no images (.jpg, .jpeg, .png, .webp, .gif) in class folders."
        )
    return Split(name, tuple(samples))


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES
