"""Small previews of uploaded photos: shown at once, before the (slower) cloud call."""

import io
import ipaddress
from urllib.parse import urlsplit

import streamlit as st
from PIL import ImageOps

from classifier.serving.fetch import check_public_address
from services.core.errors import ServiceError
from services.serving.photo_checks import open_image, to_rgb
from services.serving.prediction import check_url

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
    """Whether `st.image(url)` is safe: only http(s) URLs, which the browser loads (`st.image` would read
    any other string as a file on the server), and none naming a loopback, private or link-local host, which
    would have the visitor's browser probe its own network."""
    try:
        host = urlsplit(check_url(url)).hostname  # check_url vouches that it parses and has a host
    except ServiceError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return True  # a name: shown only once the cloud has fetched it, which it does from public addresses only
    try:
        check_public_address(host)
    except ValueError:
        return False
    return True
