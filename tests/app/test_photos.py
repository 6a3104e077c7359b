"""app.widgets.photos.is_web_url: which URLs the Predict page may hand to the visitor's browser."""

import pytest

from app.widgets.photos import is_web_url


@pytest.mark.parametrize("url", ["https://example.com/dog.jpg", "http://8.8.8.8/dog.jpg", "http://[2606:4700::1]/d"])
def test_public_http_urls_may_be_shown(url: str) -> None:
    assert is_web_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "http://127.0.0.1:4599/x",
        "http://localhost:8501/",
        "http://app.localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/dog.jpg",
        "http://192.168.1.1/",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[fe80::1%25eth0]/x",
        "http://[::1",  # malformed
    ],
)
def test_local_private_and_non_web_urls_are_never_shown(url: str) -> None:
    assert not is_web_url(url)
