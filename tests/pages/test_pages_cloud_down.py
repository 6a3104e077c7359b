"""With the cloud down or the input bad, every page says what is wrong and what to do; no tracebacks."""

import io
import struct
import zlib

from PIL import Image

from tests.pages.conftest import DOG_PHOTO, dashboard


def bomb_png() -> bytes:
    """A tiny PNG whose header claims 20000×20000 pixels."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = buffer.getvalue()
    ihdr = b"IHDR" + struct.pack(">II", 20000, 20000) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def test_overview_says_the_cloud_is_unreachable(dead_cloud: str) -> None:
    at = dashboard().run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        f"The cloud is down or unreachable at {dead_cloud}. Is localcloud running? `./dev run` starts it; "
        "for AWS, check the endpoint URL in the sidebar and your network."
    ]
    assert {m.label: m.value for m in at.metric}["Cloud"] == "custom endpoint"
    captions = [c.value for c in at.caption]
    assert "Endpoints could not be listed (see above)." in captions and "No endpoints." not in captions


def test_predict_with_cloud_down_and_bad_files(dead_cloud: str) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/predict.py").run()
    assert not at.exception
    assert any("unreachable" in w.value for w in at.warning)  # the selectors could not be listed
    at.file_uploader[0].set_value(
        [
            ("dog.jpg", DOG_PHOTO.read_bytes(), "image/jpeg"),
            ("notes.jpg", b"these are notes, not a photo", "image/jpeg"),
            ("empty.png", b"", "image/png"),
            ("bomb.png", bomb_png(), "image/png"),
            ("half.jpg", DOG_PHOTO.read_bytes()[:3000], "image/jpeg"),
        ]
    ).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 5
    assert errors[0].startswith("dog.jpg: The cloud is down or unreachable")
    assert "not an image" in errors[1]
    assert "empty" in errors[2]
    assert "decompression bomb" in errors[3]
    assert "damaged or truncated" in errors[4]


def test_predict_refuses_a_url_that_is_not_http(dead_cloud: str) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/predict.py").run()
    at.text_input(key="predict_url").input("file:///etc/passwd").run()
    assert not at.exception
    assert "not an http(s) URL" in at.error[0].value


def test_bad_sidebar_settings_fall_back_with_a_message(dead_cloud: str) -> None:
    # Streamlit 1.67's AppTest reruns only the current page after the first run, not the entry script
    # with its sidebar, so the sidebar's input is given before the first run.
    at = dashboard()
    at.session_state["settings_endpoint_url"] = "localhost:4566"
    at.run()
    assert not at.exception
    assert "not an http(s) URL" in at.sidebar.error[0].value
    assert f"unreachable at {dead_cloud}" in at.warning[0].value  # the environment's settings still apply
