"""Predict: classify dog photos through the Lambda function or straight through the endpoint."""

import math
from dataclasses import dataclass

import streamlit as st

from app.auth import ANONYMOUS_PREDICTIONS, ANONYMOUS_REFILL_S, prediction_wait, visitor
from app.predict.explanation_view import explanation_section
from app.predict.prediction_charts import top_breeds_chart
from app.settings import current_settings
from app.widgets import cache
from app.widgets.formatting import latency, literal, percent, size, verdict
from app.widgets.forms import index_of
from app.widgets.photos import is_web_url, preview
from services.core.errors import ServiceError
from services.evaluation.breed_names import display
from services.serving.explanation import ExplanationService
from services.serving.prediction import DEFAULT_ENDPOINT, DEFAULT_FUNCTION

PATHS = {"Lambda function": "lambda", "SageMaker endpoint": "endpoint"}


@dataclass(frozen=True)
class Item:
    """One thing to classify: uploaded bytes or a URL."""

    name: str
    data: bytes | None = None
    url: str | None = None


def shown(item: Item) -> str:
    """The item's name for captions and messages; a URL as plain text (see `literal`), not a link."""
    return literal(item.url) if item.url is not None else item.name


settings = current_settings()
service = ExplanationService(settings=settings)  # classifies, and explains a classification

st.title("Predict a dog's breed")

# `?endpoint=<name>` (the link after a deploy) opens the page on that endpoint.
requested_endpoint = st.query_params.get("endpoint")
if requested_endpoint and "predict_path" not in st.session_state:
    st.session_state["predict_path"] = "SageMaker endpoint"
path_label = st.radio(
    "Path", list(PATHS), index=index_of(list(PATHS), "predict_path"), horizontal=True, key="predict_path"
)
via = PATHS[path_label]
targets = cache.list_targets(service, settings)
for message in targets.errors:
    st.warning(message)
names, default = (targets.functions, DEFAULT_FUNCTION) if via == "lambda" else (targets.endpoints, DEFAULT_ENDPOINT)
if via == "endpoint" and requested_endpoint:
    default = requested_endpoint
    names = names if default in names else [default, *names]  # newer than the cached list
options = names or [default]  # nothing listed (or listing failed): still let the visitor try the default
target = st.selectbox(
    "Function" if via == "lambda" else "Endpoint",
    options,
    index=options.index(default) if default in options else 0,
    accept_new_options=True,
    key=f"predict_target_{via}",
)

uploads = st.file_uploader(  # the formats services/serving/photo_checks.py accepts, GIF included
    "Photos", type=["jpg", "jpeg", "png", "webp", "gif"], accept_multiple_files=True, key="predict_uploads"
)
use_camera = st.toggle("Take a photo with the camera", key="predict_use_camera")
shot = st.camera_input("Camera", key="predict_camera") if use_camera else None
url = st.text_input("…or an image URL", placeholder="https://example.com/dog.jpg", key="predict_url").strip()

items = [Item(upload.name, data=upload.getvalue()) for upload in uploads or []]
if shot is not None:
    items.append(Item("camera photo", data=shot.getvalue()))
if url:
    items.append(Item(url, url=url))

if not items:
    st.info("Upload a photo, take one with the camera, or paste an image URL.")
    st.stop()

# Cheap things first: every photo and its slot appear before any cloud call.
slots = []
for item in items:
    photo_column, result_column = st.columns([1, 2])
    photo_slot = photo_column.empty()
    thumbnail = preview(item.data) if item.data is not None else None
    if thumbnail is not None:
        photo_slot.image(thumbnail, caption=f"{item.name} · {size(len(item.data))}")
    else:
        photo_slot.caption(shown(item))
    slots.append((photo_slot, result_column.empty()))
    st.divider()

for index, (item, (photo_slot, slot)) in enumerate(zip(items, slots, strict=True)):
    key = cache.prediction_key(data=item.data, url=item.url, via=via, target=target, settings=settings)
    with slot.container():
        wait = 0.0 if cache.remembered(key) else prediction_wait(visitor())
        if wait:
            st.warning(
                f"{shown(item)}: guests classify {ANONYMOUS_PREDICTIONS} photos at once, then one every "
                f"{ANONYMOUS_REFILL_S:.0f} s. Try again in {math.ceil(wait)} s, or sign in."
            )
            continue
        try:
            with st.spinner(f"Classifying {item.name}…"):
                prediction, cached = cache.predict(
                    service, data=item.data, url=item.url, via=via, target=target, settings=settings
                )
        except ServiceError as exc:
            # A URL reads as text, never as a link: the cloud may have refused it as private (10.0.0.1…).
            message = exc.message.replace(item.url, literal(item.url)) if item.url else exc.message
            st.error(f"{shown(item)}: {message}")
            continue
        if item.url is not None and is_web_url(item.url):
            # Only now: the cloud fetched it, so it is public. A refused URL (127.0.0.1, 169.254.169.254…)
            # shown earlier would have the visitor's browser fetch it instead.
            photo_slot.image(item.url, caption=item.url)
        if prediction.is_dog is False:
            # No breed chart for a non-dog: bars for "Akita 20 %" would read as a breed after all.
            st.warning(verdict(prediction))
            if prediction.breeds:
                with st.expander("Breed scores anyway"):
                    st.table(
                        {
                            "breed": [display(b.label) for b in prediction.breeds],
                            "score": [percent(b.score) for b in prediction.breeds],
                        }
                    )
        else:
            st.success(verdict(prediction))
            if prediction.breeds:
                # Keyed: two identical photos would otherwise make two charts with the same ID, an error.
                st.plotly_chart(top_breeds_chart(prediction.breeds), key=f"predict_breeds_{index}")
        figures, again = st.columns([5, 1], vertical_alignment="center")
        figures.caption(latency(prediction, cached=cached) + (f" · {prediction.model}" if prediction.model else ""))
        again.button(
            "Run again",
            key=f"predict_again_{index}",
            help="Call the cloud again for fresh figures instead of the remembered answer.",
            on_click=cache.forget,
            args=(key,),
        )
        if prediction.note:
            st.info(prediction.note)
        explanation_section(service, data=item.data, prediction=prediction, settings=settings, index=index)
