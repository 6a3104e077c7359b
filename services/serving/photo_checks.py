"""Check and, when needed, shrink a photo before it is sent, so the cloud sees only readable images that
fit its payload limit.

Images are checked before decoding (a PNG may claim 20000×20000 pixels in a few hundred bytes) and
decoded once to catch truncated files here rather than as a vague model error.
"""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.core.errors import ServiceError

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""AWS's limit for an InvokeEndpoint body and a synchronous Lambda Invoke payload."""

MAX_PIXELS = 50_000_000
"""Larger images are refused as likely decompression bombs: no camera photo comes near this."""

CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
"""PIL format → MIME type for the formats the dashboard accepts (phones save JPEGs as MPO)."""

_START_LONG_SIDE = 2048  # the model looks at 224×224; 2048 px keeps detail for any model
_MIN_LONG_SIDE = 64
_JPEG_QUALITY = 90


@dataclass(frozen=True)
class PreparedImage:
    """The bytes to send, their MIME type, the pixel size, and a note for the user when they were resized."""

    data: bytes
    content_type: str
    note: str | None
    width: int
    height: int


def open_image(data: bytes) -> Image.Image:
    """Open `data` lazily (header only) after the checks that must come before any decoding."""
    if not data:
        raise ServiceError("The file is empty (0 bytes). Choose a photo.")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ServiceError(f"Refused: {exc}. This looks like a decompression bomb, not a photo.") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ServiceError("This file is not an image that can be read. Send a JPEG, PNG, WebP or GIF.") from exc
    if image.format not in CONTENT_TYPES:
        raise ServiceError(f"{image.format} images are not supported. Send a JPEG, PNG, WebP or GIF.")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ServiceError(
            f"Refused: the image claims {width}×{height} pixels ({width * height / 1e6:.0f} MP), over the "
            f"{MAX_PIXELS // 1_000_000} MP limit. This looks like a decompression bomb, not a photo."
        )
    return image


def prepare_image(data: bytes, *, limit: int = MAX_PAYLOAD_BYTES, limit_name: str | None = None) -> PreparedImage:
    """Validate `data` and return it unchanged, or as a smaller JPEG when it is over `limit` bytes.

    `limit_name` says which limit in the note (default: "the <limit> payload limit").
    """
    image = open_image(data)
    content_type = CONTENT_TYPES[image.format]
    width, height = image.size  # before decoding: a draft decode makes the image smaller
    _decode_checked(image, draft=True)
    if len(data) <= limit:
        return PreparedImage(data, content_type, None, width, height)
    shrunk, width, height = _shrink(data, limit)
    limit_name = limit_name or f"the {_limit(limit)} payload limit"
    note = (
        f"Photo was {format_size(len(data))}; sent a {width}×{height} JPEG ({format_size(len(shrunk))}) "
        f"to stay under {limit_name}."
    )
    return PreparedImage(shrunk, "image/jpeg", note, width, height)


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB pixels for any mode a visitor may upload: alpha over white, CMYK, 16-bit, palette."""
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        pixels = np.asarray(image, dtype=np.uint32)
        scale = 257 if pixels.max(initial=0) > 255 else 1  # 16-bit range → 8-bit
        image = Image.fromarray((pixels // scale).clip(0, 255).astype(np.uint8), mode="L")
    if image.mode == "P" or image.mode in {"LA", "PA", "La"}:
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "RGBa"}:
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _decode_checked(image: Image.Image, *, draft: bool) -> None:
    """Decode once so a truncated or corrupt file is refused here (a reduced-size JPEG decode suffices)."""
    if draft and image.format in {"JPEG", "MPO"}:
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ServiceError(f"The image is damaged or truncated and cannot be decoded ({exc}).") from exc


def _shrink(data: bytes, limit: int) -> tuple[bytes, int, int]:
    """Re-encode as JPEG, shrinking the long side by a quarter each time until it fits in `limit`."""
    image = open_image(data)
    long_side = min(_START_LONG_SIDE, max(image.size))
    if image.format in {"JPEG", "MPO"}:  # decode at reduced scale: about 3× faster for phone photos
        scale = long_side / max(image.size)
        image.draft("RGB", (int(image.width * scale) + 1, int(image.height * scale) + 1))
    _decode_checked(image, draft=False)
    rgb = to_rgb(ImageOps.exif_transpose(image))
    while long_side >= _MIN_LONG_SIDE:
        resized = rgb.copy()
        resized.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        if buffer.tell() <= limit:
            return buffer.getvalue(), resized.width, resized.height
        long_side = long_side * 3 // 4
    raise ServiceError(f"Could not shrink the photo under {_limit(limit)}.")


def format_size(num_bytes: int) -> str:
    """A file's size as Streamlit's file uploader prints it beside the file (on Linux and macOS): decimal
    units, one decimal, moving up a unit past half of the next (`312 B`, `0.6 MB`, `21.0 MB`), so the page
    and the uploader give one photo one size."""
    value, unit = float(num_bytes), "B"
    for larger in ("KB", "MB", "GB"):
        if value <= 500:
            break
        value, unit = value / 1000, larger
    return f"{num_bytes} B" if unit == "B" else f"{value:.1f} {unit}"


def _limit(size: int) -> str:
    """A limit as AWS names it: its "6 MB" payload limit is 6 × 1024 × 1024 bytes."""
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
