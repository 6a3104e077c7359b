"""Data page against a real localcloud: the dataset name follows the chosen zip or folder, errors name the
visitor's file, and a failed upload does not leave the previous summary standing under its error."""

import io
import uuid
import zipfile
from urllib.parse import parse_qs

import pytest
from PIL import Image

from tests.pages.conftest import dashboard

BUCKET = "sagemaker-us-east-1-000000000000"


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
    at.switch_page("app_pages/data.py").run()
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
    name = unique("small")  # one localcloud for the session: a name of its own, never one already taken
    at.file_uploader(key="data_zip").set_value((f"{name}.zip", SMALL_ZIP, "application/zip")).run()
    at.button(key="data_zip_upload").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith(f"Uploaded 6 files to s3://{BUCKET}/datasets/{name}/")


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
    upload_zip(at, unique("small"))
    assert at.success and at.metric
    at.text_input(key="data_path").input("/nonexistent/dir").run()
    at.button(key="data_folder_upload").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["'/nonexistent/dir' does not exist on the dashboard's machine."]
    assert not at.success and not at.metric
    at.run()  # and it stays gone on the next rerun
    assert not at.success and not at.metric


def test_the_sample_tab_names_the_breeds_it_lacks(data_page) -> None:
    at = data_page
    assert any("for 111 of the 133 Udacity breeds" in m.value for m in at.markdown)
    lacking = next(e for e in at.expander if e.label == "The 22 Udacity breeds with no photos here")
    assert "044.Cane_corso" in lacking.markdown[0].value


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def upload_zip(at, name: str) -> None:
    at.file_uploader(key="data_zip").set_value(("small.zip", SMALL_ZIP, "application/zip")).run()
    at.text_input(key="data_zip_name").set_value(name).run()
    at.button(key="data_zip_upload").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_a_taken_name_is_asked_about_then_kept_beside_or_replaced(data_page) -> None:
    at = data_page
    name = unique("taken")
    upload_zip(at, name)
    assert at.success[0].value.startswith(f"Uploaded 6 files to s3://{BUCKET}/datasets/{name}/")

    upload_zip(at, name)  # the same name again: nothing uploaded yet, a question instead
    assert not at.success and not at.metric
    assert [w.value for w in at.warning] == [
        f"A dataset named '{name}' is already in s3://{BUCKET}/datasets/{name}/. Replace it (its files are deleted "
        f"first), or keep both by uploading this one as '{name}-2'?"
    ]
    at.button(key="data_zip_both").click().run()
    assert not at.exception and not at.warning
    assert at.success[0].value.startswith(f"Uploaded 6 files to s3://{BUCKET}/datasets/{name}-2/")

    upload_zip(at, name)
    assert "keep both by uploading this one as" in at.warning[0].value and f"'{name}-3'" in at.warning[0].value
    at.button(key="data_zip_replace").click().run()
    assert not at.exception and not at.warning
    assert at.success[0].value.startswith(f"Uploaded 6 files to s3://{BUCKET}/datasets/{name}/")


def test_train_on_this_dataset_opens_the_launch_form_with_it(data_page) -> None:
    at = data_page
    name = unique("small")
    upload_zip(at, name)
    link = at.get("page_link")[0].proto
    assert link.label == "Train on this dataset"
    uri = f"s3://{BUCKET}/datasets/{name}/"
    query = {key: values[0] for key, values in parse_qs(link.query_string).items()}
    train_images = int(next(m.value for m in at.metric if m.label == "Train images"))
    assert query == {"tab": "launch", "dataset": uri, "train_images": str(train_images)}
    at.switch_page("app_pages/train.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception
    assert at.text_input(key="train_data_uri").value == uri
    assert at.number_input(key="train_batch").value == min(32, train_images)  # a batch launch would not refuse
    assert opened_tab(at) == "Launch"


def opened_tab(at) -> str:
    """The tab the page's (first) tab container opens on: the container's proto says which."""

    def containers(node):
        if getattr(node, "type", None) == "tab_container":
            yield node
        for child in getattr(node, "children", {}).values():
            yield from containers(child)

    container = next(containers(at._tree))
    tabs = [child.label for child in container.children.values()]
    return tabs[container.proto.tab_container.default_tab_index]
