"""The review queue (captured photos, lowest confidence first, with the model's answer), accuracy on what has been
reviewed, and the way back to training: the reviewed photos as a new dataset version."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from app.monitoring.monitor_charts import accuracy_chart
from app.widgets.formatting import percent, timestamp
from services.core.access import Caller
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.data.datasets import DatasetService
from services.evaluation.breed_names import display
from services.monitoring.baseline import Baseline
from services.monitoring.capture_setup import CaptureSetup
from services.monitoring.capture_store import CaptureStore, DayCaptures
from services.monitoring.capture_summary import ReviewCandidate
from services.monitoring.review_manifest import NOT_A_DOG, Review
from services.monitoring.reviewed_dataset import ReviewedDatasetService
from services.monitoring.reviews import ReviewSet, ReviewStore, accuracy_by_day

QUEUE_SHOWN = 6
DATASET_KEY = "monitor_new_dataset"


def review_section(
    caller: Caller, settings: CloudSettings, setup: CaptureSetup, captures: DayCaptures, classes: list[str]
) -> ReviewSet | None:
    """The queue and the accuracy so far; the reviews read, for the dataset panel (None if they could not be)."""
    store = ReviewStore(settings)
    try:
        existing = store.reviews(setup)
    except ServiceError as exc:
        st.error(exc.message)
        return None
    if existing.unreadable:
        st.warning(f"{existing.unreadable} lines of {existing.manifest_uri} are not reviews and are left out.")
    _accuracy(existing.reviews)
    done = {r.event_id for r in existing.reviews}
    queue = [c for c in captures.summary.lowest if c.event_id not in done]
    shown = f" (the {QUEUE_SHOWN} least confident here; the next come as these are reviewed)"
    st.markdown(
        f"**To review**: {len(queue)} of this day's least confident answers, lowest first"
        + (shown if len(queue) > QUEUE_SHOWN else "")
    )
    if not queue:
        st.caption("Nothing left to review on this day." if captures.summary.lowest else "No answers to review.")
    photos = CaptureStore(settings)
    for candidate in queue[:QUEUE_SHOWN]:
        with st.container(border=True):
            _review_card(caller, store, photos, setup, candidate, classes)
    st.caption(f"Reviews are a Ground Truth-style output manifest: {existing.manifest_uri}")
    return existing


def _accuracy(reviews: list[Review]) -> None:
    if not reviews:
        st.caption("No photo reviewed yet: production accuracy shows once some are.")
        return
    right = sum(r.model_was_right for r in reviews)
    st.metric("Production accuracy on reviewed photos", percent(right / len(reviews)), f"{right} of {len(reviews)}")
    st.plotly_chart(accuracy_chart(accuracy_by_day(reviews)), key="monitor_accuracy")


def _answer(candidate: ReviewCandidate) -> str:
    if candidate.is_dog is False:
        return f"Not a dog (its nearest breed: {display(candidate.label or '?')}, {candidate.confidence:.0%})"
    return f"{display(candidate.label or '?')} ({candidate.confidence:.0%})"


def _review_card(
    caller: Caller,
    store: ReviewStore,
    photos: CaptureStore,
    setup: CaptureSetup,
    candidate: ReviewCandidate,
    classes: list[str],
) -> None:
    key = f"monitor_review_{candidate.event_id}"
    try:
        photo = photos.photo(setup.bucket, candidate)
    except ServiceError as exc:
        st.warning(exc.message)
        return
    picture, answer = st.columns([1, 2])
    try:
        picture.image(photo[0], width=220)
    except Exception:  # noqa: BLE001 - PIL raises many types for a body that is not an image
        picture.warning("This request's body is not an image the browser can show.")
    answer.markdown(f"Model's answer: **{_answer(candidate)}**")
    sent = timestamp(datetime.fromisoformat(candidate.time)) if candidate.time else "at an unknown time"
    answer.caption(f"Sent {sent} · request {candidate.event_id}")
    right_answer = NOT_A_DOG if candidate.is_dog is False else candidate.label
    truth = None
    buttons = answer.columns(2)
    if right_answer and buttons[0].button("Right", key=f"{key}_right"):
        truth = right_answer
    if buttons[1].button("Not a dog", key=f"{key}_not_dog"):
        truth = NOT_A_DOG
    picked = answer.selectbox(
        "Or the right breed", classes, index=None, key=f"{key}_pick", format_func=display, placeholder="Choose a breed"
    )
    if answer.button("Save this breed", key=f"{key}_save", disabled=picked is None):
        truth = picked
    if truth is None:
        return
    try:
        store.record(caller, setup, candidate, photo, truth, classes)
    except ServiceError as exc:
        answer.error(exc.message)
        return
    st.rerun()  # the queue moves on and the accuracy counts it


def dataset_panel(caller: Caller, settings: CloudSettings, reviews: ReviewSet, base: Baseline, bucket: str) -> None:
    """Add the reviewed dog photos to a new version of the model's training set and open the Train form on it."""
    st.markdown("**Back to training**")
    base_uri = base.dataset_uri or _chosen_base(settings, bucket)
    st.caption(
        "A new dataset version: "
        + (f"{base_uri} copied under a new name" if base_uri else "the reviewed photos alone")
        + ", with the reviewed dog photos added to train/. The old version is kept. "
        f"The reviewed dog photos are also kept as class folders for the Evaluate page: {reviews.class_folders_uri}"
    )
    old_name = (base_uri or "").rstrip("/").rsplit("/", 1)[-1]
    name = st.text_input(  # keyed by the base: choosing another base offers its name again
        "New dataset name", value=f"{old_name or 'production'}-reviewed", key=f"monitor_dataset_name_{old_name}"
    )
    target_bucket = (base_uri or f"s3://{bucket}/").removeprefix("s3://").partition("/")[0]
    if st.button("Add reviewed photos to a dataset", key="monitor_add_dataset", disabled=not reviews.reviews):
        try:
            with st.spinner("Writing the new dataset version…"):
                made = ReviewedDatasetService(settings).create(caller, reviews.reviews, base_uri, target_bucket, name)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.session_state[DATASET_KEY] = made
    made = st.session_state.get(DATASET_KEY)
    if made is not None:
        st.success(
            f"{made.uri}: {made.copied} photos of the old version and {made.added} reviewed ones"
            + (f" ({made.left_out} “not a dog” left out)." if made.left_out else ".")
        )
        st.page_link(
            "app_pages/train.py",
            label="Train on it",
            icon=":material/model_training:",
            query_params={"tab": "launch", "dataset": made.uri},
        )


def _chosen_base(settings: CloudSettings, bucket: str) -> str | None:
    """The model was trained elsewhere, so its training set is unknown here: one of the Data page's datasets (in
    the capture bucket) may be chosen as the version the reviewed photos join, or none."""
    none = "none: the reviewed photos alone"
    try:
        found = [f"s3://{bucket}/{prefix}" for prefix in DatasetService(settings=settings).list_datasets(bucket)]
    except ServiceError as exc:
        st.caption(f"The datasets in s3://{bucket} could not be listed: {exc.message}")
        return None
    chosen = st.selectbox(
        "Base dataset (the served model's training set is not known here)",
        [none, *found],
        key="monitor_dataset_base",
        help="The Data page's datasets in the capture bucket; the new version copies it and adds the reviewed photos.",
    )
    return None if chosen == none else chosen
