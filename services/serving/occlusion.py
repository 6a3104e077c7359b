"""Occlusion sensitivity, the arithmetic half: which patches to cover, the covered copies, and the heat map.

The photo is cut into a grid of `grid + 1` × `grid + 1` cells; a patch covers 2 × 2 cells, so `grid` × `grid`
patches overlap their neighbours by half and together cover every pixel. A patch's heat is how much covering
it lowered the score of the breed the model named; a cell's heat is the mean over the patches that covered
it. No cloud here (services/serving/explanation.py sends the copies): just numpy and Pillow.
"""

import io
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from services.core.errors import ServiceError
from services.serving.photo_checks import open_image, to_rgb

GRID = 7
"""Patches per side: 49 masked copies, each hiding a quarter of the photo's width and height."""

WORKING_LONG_SIDE = 512
"""Copies are sent at most this long (the model looks at 224 px): small payloads, and the same
downscale for the unmasked reference, so a drop is the patch's doing, not the resize's."""

MIN_SIDE = 16
"""Smaller photos cannot hold a grid of distinct patches."""

FILL = (128, 128, 128)
"""Mid-grey: about zero after the model's normalisation, so a patch reads as "nothing here"."""

_JPEG_QUALITY = 90


@dataclass(frozen=True)
class Patch:
    """One covered square: its place in the grid and its pixel box (left, top, right, bottom; right and
    bottom exclusive, as Pillow's)."""

    row: int
    col: int
    box: tuple[int, int, int, int]


def cell_edges(length: int, grid: int = GRID) -> list[int]:
    """The `grid + 2` pixel edges of the `grid + 1` cells along a side of `length` pixels."""
    return [round(i * length / (grid + 1)) for i in range(grid + 2)]


def patches(width: int, height: int, grid: int = GRID) -> list[Patch]:
    """The `grid`² patches for a `width` × `height` photo, row by row; each spans two cells each way."""
    if grid < 1:
        raise ServiceError(f"A heat map needs at least one patch per side, not {grid}.")
    if min(width, height) < MIN_SIDE:
        raise ServiceError(f"The photo is {width}×{height} pixels: too small for a heat map (under {MIN_SIDE} px).")
    xs, ys = cell_edges(width, grid), cell_edges(height, grid)
    return [Patch(row, col, (xs[col], ys[row], xs[col + 2], ys[row + 2])) for row in range(grid) for col in range(grid)]


def working_copy(data: bytes, long_side: int = WORKING_LONG_SIDE) -> Image.Image:
    """The photo upright, in RGB, its long side at most `long_side`: what every masked copy starts from."""
    image = open_image(data)
    if image.format in {"JPEG", "MPO"}:  # decode at reduced scale where the long side allows it
        scale = min(1.0, long_side / max(image.size))
        image.draft("RGB", (int(image.width * scale) + 1, int(image.height * scale) + 1))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ServiceError(f"The image is damaged or truncated and cannot be decoded ({exc}).") from exc
    rgb = to_rgb(ImageOps.exif_transpose(image))
    rgb.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return rgb


def masked_copy(image: Image.Image, patch: Patch, fill: tuple[int, int, int] = FILL) -> Image.Image:
    """`image` with `patch` painted over in `fill`; the original is left as it was."""
    copy = image.copy()
    copy.paste(fill, patch.box)
    return copy


def jpeg(image: Image.Image) -> bytes:
    """The bytes sent for one copy (JPEG: every model server and Lambda here takes it)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    return buffer.getvalue()


def heat_map(drops: Mapping[tuple[int, int], float], grid: int = GRID) -> np.ndarray:
    """The `(grid + 1)` × `(grid + 1)` cell heat: each cell the mean drop of the patches (row, col) that
    covered it and answered; NaN where none did (a map cut short by a failing target)."""
    total = np.zeros((grid + 1, grid + 1))
    counts = np.zeros((grid + 1, grid + 1))
    for (row, col), drop in drops.items():
        total[row : row + 2, col : col + 2] += drop
        counts[row : row + 2, col : col + 2] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)
