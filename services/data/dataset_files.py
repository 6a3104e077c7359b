"""A dataset on the dashboard's machine, before it goes to S3: the name a zip or folder suggests, a zip's
entries checked (zip slip) and extracted, the folder holding `train/`, its images, and a sample of them
opened; and the download of Udacity's dogImages.zip.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import urllib.error
import urllib.request
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from services.core.errors import ServiceError

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})

_VERIFY_SAMPLE = 300  # images opened with PIL on upload; enough to catch a corrupt batch, cheap on 8,000
_DOWNLOAD_TIMEOUT_S = 20
_IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db")


@dataclass(frozen=True)
class DatasetFile:
    """One image of the tree: where it is (locally, if uploading) and where it belongs."""

    split: str
    label: str
    relative: str
    size: int
    path: Path | None = None


def dataset_name_for(source: str) -> str:
    """A usable dataset name from a zip's or folder's path (`~/Downloads/dog photos.zip` → `dog-photos`),
    so the Data page can pre-fill one; "" when nothing usable is left."""
    path = PurePosixPath(source.strip().replace("\\", "/"))
    stem = path.stem if path.suffix.lower() == ".zip" else path.name
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # é → e
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem).strip("-._")[:100]


def extract_zip(archive: Path, into: Path) -> Path:
    """Extract `archive` into `into` after checking every entry: an absolute path or a `..` (zip slip)
    refuses the whole archive before anything is written."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                    raise ServiceError(
                        f"'{archive.name}' has an entry outside its root ('{info.filename}'); refusing the whole "
                        "zip (zip slip)."
                    )
            target = into / "extracted"
            target.mkdir(parents=True, exist_ok=True)
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise ServiceError(f"'{archive.name}' is not a readable zip file: {exc}.") from exc
    return target


def find_root(folder: Path, *, shown: str) -> Path:
    """The folder holding `train/`: the given one, or its single top folder (`dogImages.zip` wraps all in
    `dogImages/`). `shown` names the source in messages when `folder` is a scratch extraction of it."""
    candidates = [folder] + [
        child for child in sorted(folder.iterdir()) if child.is_dir() and child.name not in _IGNORED
    ]
    for candidate in candidates:
        if (candidate / "train").is_dir():
            return candidate
    raise ServiceError(
        f"'{shown}' has no train/ folder. Expected train/<class>/<image> (and valid/, test/), like Udacity's dogImages."
    )


def download(url: str, to: Path, *, timeout: float = _DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch `url` to `to`, streaming; a network that cannot reach it gets a message saying what to do."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(to, "wb") as out:
            shutil.copyfileobj(response, out, length=1024 * 1024)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServiceError(
            f"Could not download {url}: {reason}. This machine cannot reach it (offline or behind a firewall). "
            "Use the offline sample, or download the zip elsewhere and upload it.",
            code="Unreachable",
        ) from exc
    return to


def is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")


def scan_local(root: Path, *, shown: str) -> tuple[list[DatasetFile], list[tuple[str, str]]]:
    """The images under `root`'s splits and the empty class folders; `shown` names the source in messages."""
    files: list[DatasetFile] = []
    empty: list[tuple[str, str]] = []
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and p.name not in _IGNORED):
            images = sorted(p for p in class_dir.iterdir() if p.is_file() and is_image(p.name))
            if not images:
                empty.append((split, class_dir.name))
            files += [
                DatasetFile(split, class_dir.name, f"{split}/{class_dir.name}/{p.name}", p.stat().st_size, p)
                for p in images
            ]
    if not any(f.split == "train" for f in files):
        raise ServiceError(f"'{shown}' has no images in train/<class>/ folders. Expected train/<class>/<image>.")
    return files, empty


def only_classes(
    files: list[DatasetFile], empty: list[tuple[str, str]], classes: Collection[str], *, shown: str
) -> tuple[list[DatasetFile], list[tuple[str, str]]]:
    """The files and empty folders of the chosen class folders; a class the source does not have, or a choice
    that leaves no training image, is refused before anything is uploaded."""
    wanted = set(classes)
    if not wanted:
        raise ServiceError("Choose at least one class to upload.")
    unknown = sorted(wanted - {f.label for f in files} - {label for _, label in empty})
    if unknown:
        raise ServiceError(f"'{shown}' has no class folder named {', '.join(repr(c) for c in unknown)}.")
    kept = [f for f in files if f.label in wanted]
    if not any(f.split == "train" for f in kept):
        raise ServiceError(f"The chosen classes have no images in the train/ folder of '{shown}'.")
    return kept, [(split, label) for split, label in empty if label in wanted]


def local_classes(root: Path) -> set[str]:
    """The class folder names under `root`'s splits, for saying what a local dataset holds before upload."""
    return {
        class_dir.name
        for split in SPLITS
        if (root / split).is_dir()
        for class_dir in (root / split).iterdir()
        if class_dir.is_dir() and class_dir.name not in _IGNORED
    }


def verify_images(files: list[DatasetFile]) -> list[str]:
    """Relative paths of images PIL cannot read, from an evenly spread sample of at most 300."""
    step = max(1, len(files) // _VERIFY_SAMPLE)
    bad: list[str] = []
    for item in files[::step]:
        try:
            with Image.open(item.path) as image:
                image.verify()
        except Exception:  # PIL raises many types (OSError, SyntaxError, DecompressionBombError…)
            bad.append(item.relative)
    return bad
