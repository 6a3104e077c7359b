"""The occlusion arithmetic (services/serving/occlusion.py): patches, masked copies and the heat map."""

import io

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from services.core.errors import ServiceError
from services.serving.occlusion import FILL, GRID, cell_edges, heat_map, jpeg, masked_copy, patches, working_copy
from tests.services.conftest import DOG_PHOTO

sides = st.integers(min_value=16, max_value=900)
grids = st.integers(min_value=1, max_value=10)


@settings(max_examples=60, deadline=None)
@given(width=sides, height=sides, grid=grids)
def test_the_patches_cover_every_pixel_and_stay_inside(width: int, height: int, grid: int) -> None:
    covered = np.zeros((height, width), dtype=np.int32)
    boxes = patches(width, height, grid)
    assert len(boxes) == grid * grid
    for patch in boxes:
        left, top, right, bottom = patch.box
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        covered[top:bottom, left:right] += 1
    assert covered.min() >= 1  # no pixel escapes the map
    assert covered.max() <= 4  # half overlap: a pixel sits under at most 2 × 2 patches


@settings(max_examples=60, deadline=None)
@given(
    grid=grids,
    drops=st.dictionaries(
        st.tuples(st.integers(0, 9), st.integers(0, 9)), st.floats(min_value=-1, max_value=1), max_size=100
    ),
)
def test_the_heat_stays_in_range_and_is_blank_only_where_no_patch_answered(grid: int, drops: dict) -> None:
    drops = {(row, col): drop for (row, col), drop in drops.items() if row < grid and col < grid}
    heat = heat_map(drops, grid)
    assert heat.shape == (grid + 1, grid + 1)
    answered = np.zeros_like(heat, dtype=bool)
    for row, col in drops:
        answered[row : row + 2, col : col + 2] = True
    assert np.array_equal(np.isfinite(heat), answered)
    assert np.all((heat[answered] >= -1) & (heat[answered] <= 1))
    if len(drops) == grid * grid:
        assert np.isfinite(heat).all()  # a complete map has no gaps


def red_share(image: Image.Image) -> float:
    """A score anyone can check: the share of pure red pixels, so the photo's red square is all it looks at."""
    pixels = np.asarray(image)
    return float(np.mean((pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)))


@settings(max_examples=40, deadline=None)
@example(width=96, height=299, x=0.0, y=0.1875, size=0.25)  # a tie: a corner cell as hot as the square's
@given(
    width=st.integers(96, 400),
    height=st.integers(96, 400),
    x=st.floats(0, 1),
    y=st.floats(0, 1),
    size=st.floats(0.15, 0.35),
)
def test_covering_the_informative_region_lowers_the_score_most(width, height, x, y, size) -> None:
    """A photo whose only informative region is a red square, scored by its red share: the hottest cell is
    on the square, and covering anything else changes nothing."""
    side = max(8, int(min(width, height) * size))
    left, top = int(x * (width - side)), int(y * (height - side))
    image = Image.new("RGB", (width, height), (40, 120, 40))
    image.paste((255, 0, 0), (left, top, left + side, top + side))
    base = red_share(image)
    boxes = patches(width, height)
    drops = {(p.row, p.col): base - red_share(masked_copy(image, p)) for p in boxes}
    for patch in boxes:
        x0, y0, x1, y1 = patch.box
        overlaps = x0 < left + side and left < x1 and y0 < top + side and top < y1
        assert (drops[(patch.row, patch.col)] > 0) == overlaps
    heat = heat_map(drops)
    xs, ys = cell_edges(width), cell_edges(height)
    cells = [(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(GRID + 1) for c in range(GRID + 1)]
    on_square = np.array(
        [x0 < left + side and left < x1 and y0 < top + side and top < y1 for x0, y0, x1, y1 in cells]
    ).reshape(heat.shape)
    assert heat[on_square].max() == pytest.approx(heat.max())  # the hottest cells (ties too) are on the square
    assert heat[on_square].max() > 0


def test_a_masked_copy_leaves_the_photo_alone() -> None:
    photo = working_copy(DOG_PHOTO.read_bytes())
    before = np.asarray(photo).copy()
    patch = patches(photo.width, photo.height)[24]  # the middle one
    copy = masked_copy(photo, patch)
    assert np.array_equal(np.asarray(photo), before)
    left, top, right, bottom = patch.box
    assert (np.asarray(copy)[top:bottom, left:right] == FILL).all()
    assert Image.open(io.BytesIO(jpeg(copy))).size == photo.size


def test_a_large_photo_is_sent_small_and_upright() -> None:
    big = Image.open(DOG_PHOTO).convert("RGB").resize((3000, 2000))
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": the copies must be cut from the upright photo
    big.save(buffer, format="JPEG", exif=exif)
    assert working_copy(buffer.getvalue()).size == (341, 512)


@pytest.mark.parametrize(("width", "height"), [(15, 200), (200, 8)])
def test_a_tiny_photo_is_refused_with_a_reason(width: int, height: int) -> None:
    with pytest.raises(ServiceError, match=f"{width}×{height} pixels: too small"):
        patches(width, height)
