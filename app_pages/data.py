"""Data: put a dataset (train/ valid/ test/, one folder per class) in S3 and see what is in it."""

import tempfile
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from app.auth import operators_only
from app.settings import current_settings
from app.widgets.formatting import size
from app.widgets.jobs import dataset_frame
from services.core.errors import ServiceError
from services.data.dataset_files import dataset_name_for, local_classes
from services.data.dataset_summary import DatasetSummary, missing_udacity_classes
from services.data.datasets import DOG_IMAGES_URL, SAMPLE_DATASET, DatasetService, dataset_prefix
from services.evaluation.breed_names import display
from services.serving.lineage import LineageService

operators_only("Data")

SUMMARY_KEY = "data_summary"
TAKEN_KEY = "data_taken"  # (source, name) of an upload refused because the name is taken: ask what to do

# Uploads one source under a dataset name; True replaces a dataset already there.
Send = Callable[[str, bool], DatasetSummary]

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


def run(action: str, call: Callable[[], DatasetSummary], taken: tuple[str, str] | None = None) -> None:
    """Run an upload or read, keep its summary for the page, and say what went wrong if it did. A failure
    drops the previous summary: left under the error, it would read as this action's result. A taken name
    is not an error but a question (see `upload`)."""
    try:
        with st.spinner(action):
            st.session_state[SUMMARY_KEY] = call()
    except ServiceError as exc:
        st.session_state.pop(SUMMARY_KEY, None)
        if exc.code == "DatasetExists" and taken:
            st.session_state[TAKEN_KEY] = taken
        else:
            st.error(exc.message)


def upload(source: str, name: str, send: Send, *, clicked: bool, action: str) -> None:
    """Upload on a click; when a dataset of that name is already in the bucket, ask first: replace it, or keep
    both by uploading this one under a free name (`name-2`…). The answer buttons are read before they are
    drawn, so the question goes away in the very run that acts on it."""
    replace_key, both_key = f"data_{source}_replace", f"data_{source}_both"
    asked = st.session_state.get(TAKEN_KEY) == (source, name)
    if clicked or (asked and (st.session_state.get(replace_key) or st.session_state.get(both_key))):
        st.session_state.pop(TAKEN_KEY, None)
        if clicked:
            run(action, lambda: send(name, False), (source, name))
        elif st.session_state.get(replace_key):
            run(action, lambda: send(name, True), (source, name))
        else:
            run(action, lambda: send(service.free_name(bucket, name), False), (source, name))
    if st.session_state.get(TAKEN_KEY) != (source, name):
        return
    try:
        free = service.free_name(bucket, name)
    except ServiceError as exc:
        st.error(exc.message)
        return
    st.warning(
        f"A dataset named '{name}' is already in s3://{bucket}/{dataset_prefix(name)}. Replace it (its files are "
        f"deleted first), or keep both by uploading this one as '{free}'?"
    )
    replace_col, both_col = st.columns(2)
    replace_col.button(f"Replace '{name}'", key=replace_key)
    both_col.button(f"Keep both: upload as '{free}'", key=both_key)


def suggest_name(source_key: str, name_key: str) -> None:
    """Pre-fill a dataset name from the zip or folder just chosen. A keyed text input ignores a changed
    `value=`, so the name goes into its session state, where the visitor can still edit it."""
    source = st.session_state.get(source_key)
    text = getattr(source, "name", source)  # an uploaded file, or a typed path
    if text:
        st.session_state[name_key] = dataset_name_for(text)


sample, from_zip, folder, udacity, existing = st.tabs(
    ["Offline sample", "Upload a zip", "Folder on this machine", "Udacity dogImages", "Already in S3"]
)
with sample:
    present = local_classes(SAMPLE_DATASET) if SAMPLE_DATASET.is_dir() else set()
    missing = missing_udacity_classes(present)
    st.write(
        f"`dogs-wiki-133`: a few Wikipedia photos each for {len(present)} of the 133 Udacity breeds ({SAMPLE_DATASET})."
    )
    if missing:
        with st.expander(f"The {len(missing)} Udacity breeds with no photos here"):
            st.write(", ".join(missing))
    picked = st.multiselect(
        "Breeds",
        sorted(present),
        key="data_sample_breeds",
        format_func=display,
        placeholder=f"All {len(present)}",
        help="A few breeds train in seconds; all of them take minutes. Leave empty for the whole sample.",
    )
    upload(
        "sample",
        f"dogs-wiki-{len(picked)}" if picked else "dogs-wiki-133",
        lambda name, replace: service.upload_sample(
            bucket, dataset_prefix(name), replace=replace, classes=picked or None
        ),
        clicked=st.button("Use the offline sample", key="data_sample", type="primary"),
        action="Uploading the sample…",
    )
with from_zip:
    archive = st.file_uploader(
        "Dataset zip", type=["zip"], key="data_zip", on_change=suggest_name, args=("data_zip", "data_zip_name")
    )
    zip_name = st.text_input("Dataset name", key="data_zip_name")
    clicked = st.button("Upload zip", key="data_zip_upload", disabled=archive is None)

    def upload_zip(name: str, replace: bool) -> DatasetSummary:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / Path(archive.name).name  # messages name the visitor's file
            path.write_bytes(archive.getvalue())
            return service.upload_dataset(path, bucket, dataset_prefix(name), replace=replace)

    if archive is not None:
        upload("zip", zip_name, upload_zip, clicked=clicked, action=f"Uploading {archive.name}…")
with folder:
    path_text = st.text_input(
        "Folder or .zip path on the dashboard's machine",
        key="data_path",
        on_change=suggest_name,
        args=("data_path", "data_folder_name"),
    )
    folder_name = st.text_input("Dataset name", key="data_folder_name")
    upload(
        "folder",
        folder_name,
        lambda name, replace: service.upload_dataset(
            Path(path_text).expanduser(), bucket, dataset_prefix(name), replace=replace
        ),
        clicked=st.button("Upload folder", key="data_folder_upload", disabled=not path_text),
        action=f"Uploading {path_text}…",
    )
with udacity:
    st.write(f"Downloads [dogImages.zip]({DOG_IMAGES_URL}) (about 1.1 GB, 8,351 images) and uploads it.")
    upload(
        "dogimages",
        "dogImages",
        lambda name, replace: service.import_dog_images(bucket, dataset_prefix(name), replace=replace),
        clicked=st.button("Import dogImages", key="data_dogimages"),
        action="Downloading dogImages.zip…",
    )
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
    for title, names in (
        ("Missing Udacity classes", summary.missing_classes),
        ("Classes with a single training photo", summary.single_photo_classes),
    ):
        if names:
            with st.expander(f"{title} ({len(names)})"):
                st.write(", ".join(names))
    # As tall as its rows, up to ten: a fixed height drew empty grid rows under a small dataset's few classes.
    st.dataframe(
        dataset_frame(summary), hide_index=True, width="stretch", height=35 * min(len(summary.classes) + 1, 10) + 3
    )
    try:
        trained = LineageService(settings).jobs_trained_on(summary.uri)
    except ServiceError as exc:
        st.caption(f"Which jobs trained on it is unknown: {exc.message}")
        trained = []
    if trained:
        st.caption(f"{len(trained)} of the newest training jobs learned from this dataset:")
        for job in trained[:10]:
            st.page_link("app_pages/job.py", label=f"Training job {job}", query_params={"job": job})
    # The launch form, not the job list, with this dataset in its data channel (pages/train.py reads these).
    st.page_link(
        "app_pages/train.py",
        label="Train on this dataset",
        icon=":material/model_training:",
        query_params={"tab": "launch", "dataset": summary.uri, "train_images": str(summary.split_totals["train"])},
    )
