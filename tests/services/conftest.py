"""Real photos from the shared datasets and stubbed boto3 clients for the service unit tests."""

import io
import socket

import boto3
import pytest
from PIL import Image

from tests.channels import DATASETS

DOG_PHOTO = DATASETS / "dogs-wiki-133" / "test" / "002.Afghan_hound" / "afghan_hound_6.jpg"
NOT_A_DOG = DATASETS / "negatives" / "skimage_coffee_cup.png"


@pytest.fixture(scope="session")
def dog_jpeg() -> bytes:
    return DOG_PHOTO.read_bytes()


@pytest.fixture(scope="session")
def cup_png() -> bytes:
    return NOT_A_DOG.read_bytes()


@pytest.fixture(scope="session")
def big_photo() -> bytes:
    """A real dog photo enlarged to 4800×3200 and saved as PNG: over the 6 MB payload limit."""
    image = Image.open(DOG_PHOTO).convert("RGB").resize((4800, 3200), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert buffer.tell() > 6 * 1024 * 1024
    return buffer.getvalue()


@pytest.fixture
def boto3_session() -> boto3.Session:
    """Dummy credentials: a Stubber answers before anything is sent, but requests are still signed."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
