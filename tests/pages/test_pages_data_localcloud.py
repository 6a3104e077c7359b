"""Data page against a real localcloud: the dataset name follows the chosen zip or folder, errors name the
visitor's file, and a failed upload does not leave the previous summary standing under its error."""

import io
import zipfile

import pytest
from PIL import Image

from tests.pages.conftest import dashboard


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


SMALL_ZIP = zip_of({f"{split}/001.A/{i}.jpg": jpeg() for split in ("train", "valid", "test") for i in range(2)})


@pytest.fixture
def data_page(aws_env):
    at = dashboard().run()
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_dataset_name_follows_the_zip_and_the_folder_and_stays_editable(data_page) -> None:
    at = data_page
    at.file_uploader(key="data_zip").set_value(("small.zip", SMALL_ZIP, "application/zip")).run()
    assert at.text_input(key="data_zip_name").value == "small"
    at.text_input(key="data_zip_name").set_value("mine").run()
    assert at.text_input(key="data_zip_name").value == "mine"
    at.file_uploader(key="data_zip").set_value(("dog photos.zip", SMALL_ZIP, "application/zip")).run()
    assert at.text_input(key="data_zip_name").value == "dog-photos"

    at.text_input(key="data_path").input("/data/dogImages/").run()
    assert at.text_input(key="data_folder_name").value == "dogImages"
    at.text_input(key="data_path").input("~/Downloads/small.zip").run()
    assert at.text_input(key="data_folder_name").value == "small"
    assert not at.exception


def test_the_prefilled_name_uploads(data_page) -> None:
    at = data_page
    at.file_uploader(key="data_zip").set_value(("small.zip", SMALL_ZIP, "application/zip")).run()
    at.button(key="data_zip_upload").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("Uploaded 6 files to s3://sagemaker-us-east-1-000000000000/datasets/small/")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("fake.zip", b"just some text", "'fake.zip' is not a zip file"),
        ("small.zip", zip_of({"valid/001.A/a.jpg": jpeg()}), "'small.zip' has no train/ folder"),
        ("hollow.zip", zip_of({"train/001.A/": b""}), "'hollow.zip' has no images in train/<class>/ folders"),
    ],
)
def test_zip_errors_name_the_uploaded_file(data_page, name: str, content: bytes, message: str) -> None:
    at = data_page
    at.file_uploader(key="data_zip").set_value((name, content, "application/zip")).run()
    at.button(key="data_zip_upload").click().run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith(message), at.error[0].value
    assert "dataset.zip" not in at.error[0].value and "extracted" not in at.error[0].value


def test_a_failed_upload_clears_the_previous_summary(data_page) -> None:
    at = data_page
    at.file_uploader(key="data_zip").set_value(("small.zip", SMALL_ZIP, "application/zip")).run()
    at.button(key="data_zip_upload").click().run()
    assert at.success and at.metric
    at.text_input(key="data_path").input("/nonexistent/dir").run()
    at.button(key="data_folder_upload").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["'/nonexistent/dir' does not exist on the dashboard's machine."]
    assert not at.success and not at.metric
    at.run()  # and it stays gone on the next rerun
    assert not at.success and not at.metric
