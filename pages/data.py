"""Data: put a dataset (train/ valid/ test/, one folder per class) in S3 and see what is in it."""

import tempfile
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from app.formatting import size
from app.jobs import dataset_frame
from app.settings import current_settings
from services.datasets import (
    DOG_IMAGES_URL,
    SAMPLE_DATASET,
    DatasetService,
    DatasetSummary,
    dataset_name_for,
    dataset_prefix,
)
from services.errors import ServiceError

SUMMARY_KEY = "data_summary"

settings = current_settings()
service = DatasetService(settings=settings)

st.title("Datasets")
st.caption(
    "A training channel is an S3 prefix holding `train/`, `valid/` and `test/`, each with one folder per class "
    "(`001.Affenpinscher/…`), like Udacity's dogImages."
)

try:
    default_bucket = service.default_bucket()
except ServiceError as exc:
    st.error(exc.message)
    st.stop()

bucket = st.text_input("Bucket", value=default_bucket, key="data_bucket", help="Created if it does not exist.")


def run(action: str, call: Callable[[], DatasetSummary]) -> None:
    """Run an upload or read, keep its summary for the page, and say what went wrong if it did. A failure
    drops the previous summary: left under the error, it would read as this action's result."""
    try:
        with st.spinner(action):
            st.session_state[SUMMARY_KEY] = call()
    except ServiceError as exc:
        st.session_state.pop(SUMMARY_KEY, None)
        st.error(exc.message)


def suggest_name(source_key: str, name_key: str) -> None:
    """Pre-fill a dataset name from the zip or folder just chosen. A keyed text input ignores a changed
    `value=`, so the name goes into its session state, where the visitor can still edit it."""
    source = st.session_state.get(source_key)
    text = getattr(source, "name", source)  # an uploaded file, or a typed path
    if text:
        st.session_state[name_key] = dataset_name_for(text)


sample, upload, folder, udacity, existing = st.tabs(
    ["Offline sample", "Upload a zip", "Folder on this machine", "Udacity dogImages", "Already in S3"]
)
with sample:
    st.write(f"`dogs-wiki-133`: the 133 Udacity breeds with a few Wikipedia photos each ({SAMPLE_DATASET}).")
    if st.button("Use the offline sample", key="data_sample", type="primary"):
        run("Uploading the sample…", lambda: service.upload_sample(bucket, "datasets/dogs-wiki-133/"))
with upload:
    archive = st.file_uploader(
        "Dataset zip", type=["zip"], key="data_zip", on_change=suggest_name, args=("data_zip", "data_zip_name")
    )
    zip_name = st.text_input("Dataset name", key="data_zip_name")
    if st.button("Upload zip", key="data_zip_upload", disabled=archive is None):

        def upload_zip() -> DatasetSummary:
            with tempfile.TemporaryDirectory() as scratch:
                path = Path(scratch) / Path(archive.name).name  # messages name the visitor's file
                path.write_bytes(archive.getvalue())
                return service.upload_dataset(path, bucket, dataset_prefix(zip_name))

        run(f"Uploading {archive.name}…", upload_zip)
with folder:
    path_text = st.text_input(
        "Folder or .zip path on the dashboard's machine",
        key="data_path",
        on_change=suggest_name,
        args=("data_path", "data_folder_name"),
    )
    folder_name = st.text_input("Dataset name", key="data_folder_name")
    if st.button("Upload folder", key="data_folder_upload", disabled=not path_text):
        run(
            f"Uploading {path_text}…",
            lambda: service.upload_dataset(Path(path_text).expanduser(), bucket, dataset_prefix(folder_name)),
        )
with udacity:
    st.write(f"Downloads [dogImages.zip]({DOG_IMAGES_URL}) (about 1.1 GB, 8,351 images) and uploads it.")
    if st.button("Import dogImages", key="data_dogimages"):
        run("Downloading dogImages.zip…", lambda: service.import_dog_images(bucket, "datasets/dogImages/"))
with existing:
    try:
        prefixes = service.list_datasets(bucket)
    except ServiceError as exc:
        prefixes = []
        st.error(exc.message)
    if prefixes:
        chosen = st.selectbox("Dataset", prefixes, key="data_existing")
        if st.button("Summarize", key="data_summarize"):
            run(f"Reading s3://{bucket}/{chosen}…", lambda: service.summarize_dataset(bucket, chosen))
    else:
        st.caption(f"No datasets under s3://{bucket}/datasets/ yet.")

summary: DatasetSummary | None = st.session_state.get(SUMMARY_KEY)
if summary is not None:
    st.subheader(summary.uri)
    if summary.uploaded:
        st.success(f"Uploaded {summary.uploaded} files to {summary.uri}")
    classes, train, valid, test, total = st.columns(5)
    classes.metric("Classes", len(summary.classes))
    train.metric("Train images", summary.split_totals["train"])
    valid.metric("Valid images", summary.split_totals["valid"])
    test.metric("Test images", summary.split_totals["test"])
    total.metric("Size", size(summary.total_bytes))
    for warning in summary.warnings:
        st.warning(warning)
    st.dataframe(dataset_frame(summary), hide_index=True, width="stretch", height=320)
    st.session_state["train_data_uri"] = summary.uri
    st.page_link("pages/train.py", label="Train on this dataset", icon="🏋️")
