"""Datasets: ImageFolder layout checks, zip slip, summary warnings, upload and read-back (moto S3)."""

import io
import zipfile
from pathlib import Path

import pytest
from moto import mock_aws
from PIL import Image

from classifier.labels import udacity_folders
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.data.dataset_files import dataset_name_for, download
from services.data.dataset_summary import missing_udacity_classes
from services.data.datasets import SAMPLE_DATASET, DatasetService, dataset_prefix, normalize_prefix
from tests.channels import required

SETTINGS = CloudSettings(endpoint_url=None, region="us-east-1", profile=None)
BUCKET = "sagemaker-us-east-1-123456789012"


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def tree(root: Path) -> Path:
    """train: A (2), B (1), C (empty folder); valid: A, B; test: A only; one unreadable image in train/B."""
    for rel in [
        "train/001.A/a1.jpg",
        "train/001.A/a2.jpg",
        "train/002.B/b1.jpg",
        "valid/001.A/a.jpg",
        "valid/002.B/b.jpg",
        "test/001.A/a.jpg",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(jpeg())
    (root / "train/002.B/broken.jpg").write_bytes(b"not really a jpeg")
    (root / "train/003.C").mkdir()
    (root / "train/001.A/.DS_Store").write_bytes(b"junk")
    return root


@pytest.fixture
def service(boto3_session):
    with mock_aws():
        yield DatasetService(boto3_session, settings=SETTINGS)


def test_default_bucket_is_the_sdk_default(service) -> None:
    assert service.default_bucket() == BUCKET


def test_upload_a_folder_and_read_it_back(service, tmp_path) -> None:
    summary = service.upload_dataset(tree(tmp_path / "dogs"), BUCKET, "datasets/dogs")
    assert summary.uri == f"s3://{BUCKET}/datasets/dogs/"
    assert summary.uploaded == 7
    assert summary.split_totals == {"train": 4, "valid": 2, "test": 1}
    assert [(c.name, c.train, c.valid, c.test) for c in summary.classes] == [
        ("001.A", 2, 1, 1),
        ("002.B", 2, 1, 0),
        ("003.C", 0, 0, 0),
    ]
    text = "\n".join(summary.warnings)
    assert "1 empty class folder(s): train/003.C" in text
    assert "1 class(es) have no train images: 003.C" in text
    assert "2 class(es) have no test images: 002.B, 003.C" in text
    assert "1 image(s) could not be read: train/002.B/broken.jpg" in text
    assert summary.single_photo_classes == []
    assert summary.missing_classes == []  # its own class names: no Udacity list to miss
    assert "Udacity" not in text

    again = service.summarize_dataset(BUCKET, "datasets/dogs/")
    assert again.split_totals == summary.split_totals
    assert again.total_bytes == summary.total_bytes
    assert "2 class(es) have no test images: 001.A" not in "\n".join(again.warnings)
    assert service.list_datasets(BUCKET) == ["datasets/dogs/"]


def test_a_zip_with_a_top_folder_like_dogimages(service, tmp_path) -> None:
    source = tree(tmp_path / "src")
    archive = tmp_path / "dogImages.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in source.rglob("*"):
            if path.is_file():
                zf.write(path, f"dogImages/{path.relative_to(source).as_posix()}")
    summary = service.upload_dataset(archive, BUCKET, "datasets/dogImages/")
    assert summary.split_totals["train"] == 4


@pytest.mark.parametrize("evil", ["../escape.jpg", "dogImages/../../escape.jpg", "/etc/cron.d/evil", "C:/evil.jpg"])
def test_zip_slip_is_refused_before_anything_is_written(service, tmp_path, evil) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("train/001.A/a.jpg", jpeg())
        zf.writestr(evil, b"payload")
    with pytest.raises(ServiceError, match="outside its root.*zip slip"):
        service.upload_dataset(archive, BUCKET, "datasets/evil/")
    assert not (tmp_path / "escape.jpg").exists()
    assert service.list_datasets(BUCKET) == []  # nothing uploaded (the bucket does not even exist)


def test_a_dataset_without_train_is_refused(service, tmp_path) -> None:
    (tmp_path / "d" / "valid" / "001.A").mkdir(parents=True)
    (tmp_path / "d" / "valid" / "001.A" / "a.jpg").write_bytes(jpeg())
    with pytest.raises(ServiceError, match="has no train/ folder"):
        service.upload_dataset(tmp_path / "d", BUCKET, "datasets/d/")
    (tmp_path / "e" / "train").mkdir(parents=True)
    with pytest.raises(ServiceError, match="^'e' has no images in train/<class>/ folders"):
        service.upload_dataset(tmp_path / "e", BUCKET, "datasets/e/")


def test_zip_messages_name_the_zip_not_its_scratch_extraction(service, tmp_path) -> None:
    """The page uploads a scratch copy under the visitor's file name; messages must not say 'extracted'."""
    without_train = tmp_path / "small.zip"
    with zipfile.ZipFile(without_train, "w") as zf:
        zf.writestr("valid/001.A/a.jpg", jpeg())
    with pytest.raises(ServiceError, match="^'small.zip' has no train/ folder"):
        service.upload_dataset(without_train, BUCKET, "datasets/small/")
    hollow = tmp_path / "hollow.zip"
    with zipfile.ZipFile(hollow, "w") as zf:
        zf.writestr("dogImages/train/001.A/", b"")
    with pytest.raises(ServiceError, match="^'hollow.zip' has no images in train/<class>/ folders"):
        service.upload_dataset(hollow, BUCKET, "datasets/hollow/")


def test_not_a_zip_and_missing_paths(service, tmp_path) -> None:
    (tmp_path / "notes.zip").write_text("hello")
    with pytest.raises(ServiceError, match="^'notes.zip' is not a zip file"):
        service.upload_dataset(tmp_path / "notes.zip", BUCKET, "datasets/x/")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ServiceError, match="^'notes.txt' is neither a folder nor a zip"):
        service.upload_dataset(tmp_path / "notes.txt", BUCKET, "datasets/x/")
    with pytest.raises(ServiceError, match="does not exist"):
        service.upload_dataset(tmp_path / "nowhere", BUCKET, "datasets/x/")


def test_summarize_an_empty_prefix(service) -> None:
    service.ensure_bucket(BUCKET)
    with pytest.raises(ServiceError, match="No images under s3://"):
        service.summarize_dataset(BUCKET, "datasets/none/")


def test_names_and_prefixes_are_checked() -> None:
    assert dataset_prefix("dogs-wiki-133") == "datasets/dogs-wiki-133/"
    assert normalize_prefix("/datasets/x") == "datasets/x/"
    for bad in ["", "a/../b", "a//b"]:
        with pytest.raises(ServiceError):
            normalize_prefix(bad)
    with pytest.raises(ServiceError, match="not a usable dataset name"):
        dataset_prefix("../up")
    with pytest.raises(ServiceError, match="not a valid S3 bucket name"):
        DatasetService(settings=SETTINGS).summarize_dataset("Bad_Bucket", "datasets/x/")


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("small.zip", "small"),
        ("/data/dogImages/", "dogImages"),
        ("~/Downloads/dog photos.ZIP", "dog-photos"),
        ("C:\\data\\my.set", "my.set"),
        ("chiens-été.zip", "chiens-ete"),
        ("/", ""),
    ],
)
def test_a_name_is_suggested_from_the_zip_or_folder(source: str, name: str) -> None:
    assert dataset_name_for(source) == name
    if name:
        assert dataset_prefix(name) == f"datasets/{name}/"


def test_download_says_clearly_when_the_network_is_unreachable(tmp_path, unused_port) -> None:
    url = f"http://127.0.0.1:{unused_port}/udacity-aind/dog-project/dogImages.zip"
    with pytest.raises(ServiceError) as raised:
        download(url, tmp_path / "dogImages.zip", timeout=2)
    assert raised.value.code == "Unreachable"
    assert f"Could not download {url}" in raised.value.message
    assert "Use the offline sample" in raised.value.message


def test_the_offline_sample_summary(service) -> None:
    required(SAMPLE_DATASET)
    summary = service.upload_sample(BUCKET)
    assert summary.prefix == "datasets/dogs-wiki-133/"
    assert len(summary.classes) == 111  # the union of the splits: 22 Udacity breeds have no photo
    assert summary.split_totals == {"train": 391, "valid": 103, "test": 91}
    assert any("have no test images" in w for w in summary.warnings)
    # Which of the 133 are missing, by name, and which classes have one training photo.
    on_disk = {p.name for split in ("train", "valid", "test") for p in (SAMPLE_DATASET / split).iterdir()}
    assert summary.missing_classes == [f for f in udacity_folders() if f not in on_disk]
    assert len(summary.missing_classes) == 22 and "044.Cane_corso" in summary.missing_classes
    assert any(w.startswith("111 of Udacity's 133 classes are here; 22 are missing") for w in summary.warnings)
    single = sorted(p.parent.name for p in (SAMPLE_DATASET / "train").glob("*/*") if p.is_file())
    assert summary.single_photo_classes == sorted({c for c in single if single.count(c) == 1})
    assert any(
        w.startswith(f"{len(summary.single_photo_classes)} class(es) have a single training photo")
        for w in summary.warnings
    )
    again = service.summarize_dataset(BUCKET, summary.prefix)  # read back from S3: the same findings
    assert (again.missing_classes, again.single_photo_classes) == (
        summary.missing_classes,
        summary.single_photo_classes,
    )


def test_missing_classes_only_against_udacity_names() -> None:
    folders = udacity_folders()
    assert missing_udacity_classes(folders) == []
    assert missing_udacity_classes(folders[1:]) == ["001.Affenpinscher"]
    assert missing_udacity_classes(["001.Affenpinscher", "cats"]) == []  # not Udacity's list: nothing to miss
    assert missing_udacity_classes([]) == []


def test_an_existing_name_is_refused_then_replaced_or_kept_beside(service, tmp_path) -> None:
    first = tree(tmp_path / "one")
    service.upload_dataset(first, BUCKET, "datasets/dogs/")
    second = tmp_path / "two"
    (second / "train" / "009.Z").mkdir(parents=True)
    (second / "train" / "009.Z" / "z.jpg").write_bytes(jpeg())
    with pytest.raises(ServiceError) as refused:
        service.upload_dataset(second, BUCKET, "datasets/dogs/")
    assert refused.value.code == "DatasetExists"
    assert refused.value.message.startswith(f"s3://{BUCKET}/datasets/dogs/ already holds a dataset.")
    assert service.summarize_dataset(BUCKET, "datasets/dogs/").split_totals["train"] == 4  # untouched

    assert service.free_name(BUCKET, "dogs") == "dogs-2"
    service.upload_dataset(second, BUCKET, "datasets/dogs-2/")
    assert service.free_name(BUCKET, "dogs") == "dogs-3"
    assert service.free_name(BUCKET, "cats") == "cats"

    replaced = service.upload_dataset(second, BUCKET, "datasets/dogs/", replace=True)
    assert replaced.uploaded == 1
    again = service.summarize_dataset(BUCKET, "datasets/dogs/")
    assert [c.name for c in again.classes] == ["009.Z"]  # the old files went first, no mix of two datasets
    assert service.dataset_exists(BUCKET, "datasets/dogs/") and not service.dataset_exists(BUCKET, "datasets/x/")


def test_dogimages_refuses_a_taken_name_before_downloading(service, tmp_path, unused_port) -> None:
    service.upload_dataset(tree(tmp_path / "one"), BUCKET, "datasets/dogImages/")
    with pytest.raises(ServiceError) as refused:
        service.import_dog_images(BUCKET, url=f"http://127.0.0.1:{unused_port}/dogImages.zip")
    assert refused.value.code == "DatasetExists"  # not "Unreachable": it never tried the download


def test_only_the_chosen_classes_go_up(service, tmp_path) -> None:
    summary = service.upload_dataset(tree(tmp_path / "dogs"), BUCKET, "datasets/a-only", classes=["001.A"])
    assert summary.uploaded == 4 and summary.split_totals == {"train": 2, "valid": 1, "test": 1}
    assert [c.name for c in summary.classes] == ["001.A"]


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([], "Choose at least one class to upload."),
        (["001.A", "009.Z"], "'dogs' has no class folder named '009.Z'."),
        (["003.C"], "The chosen classes have no images in the train/ folder of 'dogs'."),
    ],
)
def test_a_choice_that_cannot_be_uploaded_uploads_nothing(service, tmp_path, classes, message) -> None:
    with pytest.raises(ServiceError) as raised:
        service.upload_dataset(tree(tmp_path / "dogs"), BUCKET, "datasets/picked", classes=classes)
    assert raised.value.message == message
    assert not service.dataset_exists(BUCKET, "datasets/picked")
