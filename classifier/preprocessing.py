"""Turn untrusted upload bytes into the tensor EfficientNet-Lite0 expects.

Uploads come from anyone on the internet, so every failure becomes an ``ImageError`` whose message
tells the sender what to fix, and nothing is decoded before its size has been checked.
"""

import io
import re
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000
"""Largest image accepted (50 MP: any phone photo); bigger ones are refused before decoding."""

RESIZE_SHORT_SIDE = 256
CROP_SIZE = 224
"""The weights were trained on a 224 centre crop of images resized so the short side is 224/0.875."""

_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")  # JPEG covers MPO (multi-picture phone photos)
_SIXTEEN_BIT_GRAY_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


class ImageError(ValueError):
    """The upload is not an image this service can classify; the message says why and what to send."""


def load_image(data: bytes) -> Image.Image:
    """Decode upload bytes into an upright 8-bit RGB image, refusing empty, non-image, truncated and
    oversized files with a message a person can act on."""
    if not data:
        raise ImageError("The file is empty.")
    try:
        im = Image.open(io.BytesIO(data), formats=_FORMATS)
    except UnidentifiedImageError:
        raise ImageError("This file is not an image PIL can read (expected JPEG, PNG, WebP or GIF).") from None
    except Image.DecompressionBombError as exc:
        # Pillow refuses anything above ~179 MP itself, before we see the size.
        match = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(match.group(1)) / 1e6:.0f} MP" if match else "too large"
        raise ImageError(f"Image is {size}; the limit is {MAX_PIXELS / 1e6:.0f} MP.") from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"The image header is corrupt ({exc}); re-save the file and try again.") from None

    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"Image is {width}×{height} ({width * height / 1e6:.0f} MP); the limit is {MAX_PIXELS / 1e6:.0f} MP."
        )
    # For JPEG, let libjpeg decode at 1/2, 1/4 or 1/8 scale while both sides stay >= 256: a phone
    # photo then decodes about 3x faster and loses nothing the 256-pixel resize would keep.
    im.draft("RGB", (RESIZE_SHORT_SIDE, RESIZE_SHORT_SIDE))
    try:
        im.load()  # first frame of an animation; raises on truncated data
    except _DECODE_ERRORS as exc:
        raise ImageError(
            f"The image is truncated or corrupt ({exc}); re-save or re-upload the complete file."
        ) from None
    return _to_rgb(_upright(im))


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation a camera recorded, so a portrait phone photo is not sideways.
    A malformed EXIF block is ignored rather than refusing an otherwise good photo."""
    try:
        return ImageOps.exif_transpose(im)
    except _DECODE_ERRORS + (KeyError,):
        return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB the way a viewer would show it."""
    if im.mode in _SIXTEEN_BIT_GRAY_MODES:
        im = _to_8bit_gray(im)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    """Scale 16-bit grayscale (Pillow's "I;16", or "I" in older releases) from 0–65535 to 0–255;
    Pillow's own convert would clip every value above 255 to white."""
    values = np.asarray(im, dtype=np.float64)
    scaled = np.clip(values * (255.0 / 65535.0), 0, 255).round().astype(np.uint8)
    return Image.fromarray(scaled)  # uint8, 2-D: mode "L"


def to_model_input(image: Image.Image) -> np.ndarray:
    """Resize the short side to 256 (bicubic), centre-crop 224, scale to ``(x - 127) / 128``; returns
    float32 NCHW of shape (1, 3, 224, 224).

    The crop is taken in source coordinates and resampled in one step, which gives the same pixels as
    resize-then-crop but never materialises the resized image (a 10000×20 strip would otherwise
    become 128000×256).
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    scale = RESIZE_SHORT_SIDE / min(width, height)
    resized_w, resized_h = round(width * scale), round(height * scale)
    left = round((resized_w - CROP_SIZE) / 2)
    top = round((resized_h - CROP_SIZE) / 2)
    sx, sy = width / resized_w, height / resized_h
    box = (left * sx, top * sy, (left + CROP_SIZE) * sx, (top + CROP_SIZE) * sy)
    crop = rgb.resize((CROP_SIZE, CROP_SIZE), Image.Resampling.BICUBIC, box=box)
    pixels = np.asarray(crop, dtype=np.float32)
    return ((pixels - 127.0) / 128.0).transpose(2, 0, 1)[np.newaxis].copy()
