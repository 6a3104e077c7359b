"""Photos are checked before anything is sent, and shrunk (with a note) when over the payload limit."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from services.core.errors import ServiceError
from services.serving.photo_checks import MAX_PAYLOAD_BYTES, format_size, prepare_image


def encode(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height`: a decompression bomb's calling card."""
    data = encode(Image.new("L", (1, 1)), "PNG")
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def test_small_photo_passes_unchanged(dog_jpeg: bytes, cup_png: bytes) -> None:
    prepared = prepare_image(dog_jpeg)
    assert (prepared.data, prepared.content_type, prepared.note) == (dog_jpeg, "image/jpeg", None)
    assert (prepared.width, prepared.height) == (220, 147)
    assert prepare_image(cup_png).content_type == "image/png"


def test_oversized_photo_is_downsized_under_the_limit_with_a_note(big_photo: bytes) -> None:
    prepared = prepare_image(big_photo, limit=MAX_PAYLOAD_BYTES)
    assert len(prepared.data) <= MAX_PAYLOAD_BYTES
    assert prepared.content_type == "image/jpeg"
    assert (prepared.width, prepared.height) == (2048, 1365)  # aspect kept, long side 2048
    assert prepared.note is not None
    assert prepared.note.startswith(f"Photo was {len(big_photo) / 1e6:.1f} MB; sent a 2048×1365 JPEG (")
    assert prepared.note.endswith("to stay under the 6 MB payload limit.")
    assert Image.open(io.BytesIO(prepared.data)).size == (2048, 1365)


def test_shrinks_further_until_it_fits(big_photo: bytes) -> None:
    prepared = prepare_image(big_photo, limit=40_000, limit_name="a tiny limit")
    assert len(prepared.data) <= 40_000
    assert prepared.width < 2048
    assert prepared.note is not None and prepared.note.endswith("to stay under a tiny limit.")


def test_exif_rotation_is_applied_before_downsizing(dog_jpeg: bytes) -> None:
    photo = Image.open(io.BytesIO(dog_jpeg)).resize((3000, 2000))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed portrait (rotate 90° clockwise)
    data = encode(photo, "JPEG", quality=95, exif=exif)
    prepared = prepare_image(data, limit=len(data) - 1)
    assert prepared.height > prepared.width


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("CMYK", lambda rgb: rgb.convert("CMYK")),
        ("RGBA", lambda rgb: rgb.convert("RGBA")),
        ("I;16", lambda rgb: Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)),
        ("P", lambda rgb: rgb.convert("P")),
    ],
)
def test_unusual_modes_downsize_to_a_faithful_rgb_jpeg(dog_jpeg: bytes, mode: str, make) -> None:
    rgb = Image.open(io.BytesIO(dog_jpeg)).convert("RGB")
    source = make(rgb)
    data = encode(source, "JPEG" if mode == "CMYK" else "PNG")
    prepared = prepare_image(data, limit=len(data) - 1)
    result_image = Image.open(io.BytesIO(prepared.data))
    assert result_image.mode == "RGB"
    result = np.asarray(result_image.convert("L"), dtype=np.float64)
    reference = np.asarray(rgb.resize(result_image.size).convert("L"), dtype=np.float64)
    assert np.abs(result - reference).mean() < 12  # same picture, not washed out or inverted


def test_transparent_pixels_become_white(dog_jpeg: bytes) -> None:
    rgba = Image.open(io.BytesIO(dog_jpeg)).convert("RGBA")
    rgba.putalpha(0)
    data = encode(rgba, "PNG")
    prepared = prepare_image(data, limit=len(data) - 1)
    assert np.asarray(Image.open(io.BytesIO(prepared.data))).min() > 245


def test_animated_gif_is_accepted_and_shrinks_to_its_first_frame(dog_jpeg: bytes) -> None:
    rgb = Image.open(io.BytesIO(dog_jpeg)).convert("RGB")
    frames = [rgb, rgb.rotate(90), rgb.rotate(180)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert prepare_image(data).content_type == "image/gif"
    prepared = prepare_image(data, limit=len(data) - 1)
    assert prepared.content_type == "image/jpeg"


def test_webp_is_sniffed(dog_jpeg: bytes) -> None:
    data = encode(Image.open(io.BytesIO(dog_jpeg)), "WEBP")
    assert prepare_image(data).content_type == "image/webp"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7 this is not an image", "not an image"),
        (png_claiming(20000, 20000), "decompression bomb"),
        (png_claiming(10000, 6000), "60 MP"),
    ],
)
def test_bad_input_is_refused_before_decoding(data: bytes, message: str) -> None:
    with pytest.raises(ServiceError, match=message):
        prepare_image(data)


def test_truncated_jpeg_is_refused(dog_jpeg: bytes) -> None:
    with pytest.raises(ServiceError, match="damaged or truncated"):
        prepare_image(dog_jpeg[: len(dog_jpeg) // 2])


def test_unsupported_format_is_refused(dog_jpeg: bytes) -> None:
    with pytest.raises(ServiceError, match="BMP images are not supported"):
        prepare_image(encode(Image.open(io.BytesIO(dog_jpeg)), "BMP"))


@pytest.mark.parametrize(
    ("num_bytes", "shown"),
    [
        (312, "312 B"),
        (501, "0.5 KB"),
        (120_000, "120.0 KB"),
        (600_000, "0.6 MB"),
        (21_000_000, "21.0 MB"),  # the uploader's "21.0MB"; the page said "20.0 MB" in binary units
        (21_070_000, "21.1 MB"),
        (2_500_000_000, "2.5 GB"),
    ],
)
def test_sizes_read_as_the_file_uploader_prints_them(num_bytes: int, shown: str) -> None:
    """Streamlit's uploader divides by 1000 and moves up a unit past 500 (its frontend's getSizeDisplay)."""
    assert format_size(num_bytes) == shown
