"""Helpers for the page tests: the dashboard under AppTest, real photos, a cloud that is down."""

import socket
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.channels import DATASETS

ROOT = Path(__file__).resolve().parents[2]
DOG_PHOTO = DATASETS / "dogs-wiki-133" / "test" / "002.Afghan_hound" / "afghan_hound_6.jpg"
NOT_A_DOG = DATASETS / "negatives" / "skimage_rocket.jpg"


def dashboard() -> AppTest:
    """The whole app as a visitor gets it (entry script, sidebar, navigation), generous per-run timeout."""
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)


@pytest.fixture
def dead_cloud(monkeypatch: pytest.MonkeyPatch) -> str:
    """Settings that point at a port nothing listens on, with dummy credentials."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return url
