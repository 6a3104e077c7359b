"""Small previews of uploaded photos: shown at once, before the (slower) cloud call."""

import io

import streamlit as st
from PIL import ImageOps

from services.errors import ServiceError
from services.images import open_image, to_rgb
from services.prediction import check_url

_PREVIEW_SIDE = 480


@st.cache_data(show_spinner=False, max_entries=128)
def preview(data: bytes) -> bytes | None:
    """A JPEG thumbnail, upright, or None when the bytes are not a readable image (the prediction then
    says why). `st.image` itself would raise on such bytes."""
    try:
        image = open_image(data)
        image.draft("RGB", (_PREVIEW_SIDE, _PREVIEW_SIDE))
        image = to_rgb(ImageOps.exif_transpose(image))
    except (ServiceError, OSError, SyntaxError, ValueError):  # unreadable, or corrupt past the header
        return None
    image.thumbnail((_PREVIEW_SIDE, _PREVIEW_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def is_web_url(url: str) -> bool:
    """Whether `st.image(url)` is safe: only http(s) URLs, which the browser loads. `st.image` would read
    any other string as a file on the server."""
    try:
        check_url(url)
    except ServiceError:
        return False
    return True
