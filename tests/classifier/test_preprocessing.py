import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.preprocessing import MAX_PIXELS, ImageError, load_image, to_model_input


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A ~60-byte PNG whose header claims width×height: a decompression bomb's signature."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_real_photos_decode_to_rgb_and_model_input(photos: Path) -> None:
    paths = sorted((photos / "dogs-wiki-133" / "test").glob("*/*"))[:10] + sorted((photos / "negatives").iterdir())
    for path in paths:
        image = load_image(path.read_bytes())
        assert image.mode == "RGB"
        batch = to_model_input(image)
        assert batch.shape == (1, 3, 224, 224) and batch.dtype == np.float32
        assert batch.min() >= -1.0 and batch.max() <= 1.0


def test_grayscale_photo_becomes_rgb(photos: Path) -> None:
    image = load_image((photos / "negatives" / "skimage_human_cameraman.png").read_bytes())
    assert image.mode == "RGB" and image.size == (512, 512)


def test_model_input_is_resize_then_centre_crop_scaled_around_127() -> None:
    # Left half black, right half white: after the centre crop the columns flip colour in the middle.
    array = np.zeros((300, 600, 3), np.uint8)
    array[:, 300:] = 255
    batch = to_model_input(Image.fromarray(array))
    assert batch[0, :, :, 0].max() == pytest.approx(-127 / 128)
    assert batch[0, :, :, -1].min() == pytest.approx(128 / 128)
    assert batch[0, 0, 100, 100] < 0 < batch[0, 0, 100, 123]


def test_extreme_aspect_ratio_does_not_blow_up_memory() -> None:
    batch = to_model_input(Image.new("RGB", (20_000, 2), (200, 10, 10)))
    assert batch.shape == (1, 3, 224, 224)


def test_empty_file() -> None:
    with pytest.raises(ImageError, match="The file is empty."):
        load_image(b"")


def test_random_bytes_are_not_an_image() -> None:
    data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(ImageError, match="not an image PIL can read"):
        load_image(data)


def test_truncated_jpeg(dog_jpeg: Path) -> None:
    data = dog_jpeg.read_bytes()
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused_from_the_header() -> None:
    data = png_claiming(20_000, 20_000)
    assert len(data) < 100
    start = time.perf_counter()
    with pytest.raises(ImageError, match="400 MP; the limit is 50 MP"):
        load_image(data)
    assert time.perf_counter() - start < 0.5


def test_image_above_our_limit_but_below_pillows_names_its_size() -> None:
    assert MAX_PIXELS < 10_000 * 6_000
    with pytest.raises(ImageError, match="Image is 10000×6000 \\(60 MP\\); the limit is 50 MP."):
        load_image(png_claiming(10_000, 6_000))


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = load_image(data)
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 0, 0)


def test_animated_webp_uses_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert load_image(data).getpixel((5, 5)) == (0, 255, 0)


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    red, green, blue = load_image(data).getpixel((16, 16))
    assert red > 200 and green < 60 and blue < 60


def test_16_bit_grayscale_png_is_scaled_not_clipped() -> None:
    gradient = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1))
    data = encode(Image.fromarray(gradient), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    image = load_image(data)
    row = [image.getpixel((x, 8))[0] for x in (0, 32, 63)]
    assert row[0] == 0 and 120 <= row[1] <= 135 and row[2] == 255


def test_transparent_rgba_png_is_composited_on_white() -> None:
    array = np.zeros((16, 16, 4), np.uint8)
    array[:8] = (0, 0, 0, 255)  # top half opaque black, bottom half fully transparent black
    image = load_image(encode(Image.fromarray(array, "RGBA"), "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((4, 2)) == (0, 0, 0)
    assert image.getpixel((4, 12)) == (255, 255, 255)


def test_palette_png_with_transparency_is_composited_on_white() -> None:
    palette_image = Image.new("P", (16, 16), 0)
    palette_image.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    palette_image.paste(1, (0, 0, 8, 16))
    image = load_image(encode(palette_image, "PNG", transparency=0))
    assert image.getpixel((2, 2)) == (10, 200, 10)
    assert image.getpixel((12, 2)) == (255, 255, 255)


def test_exif_orientation_6_swaps_width_and_height() -> None:
    source = Image.new("RGB", (40, 20), (30, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image = load_image(encode(source, "JPEG", exif=exif.tobytes()))
    assert image.size == (20, 40)


def test_large_jpeg_is_drafted_but_keeps_short_side_for_the_resize() -> None:
    data = encode(Image.new("RGB", (4000, 3000), (90, 90, 90)), "JPEG", quality=80)
    image = load_image(data)
    assert min(image.size) >= 256
    assert image.size[0] < 4000
