"""Photos of an evaluation with what the model said and what it should have said, a page at a time (each photo is
read from S3 only when its page is shown)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.settings import current_settings
from app.widgets.formatting import percent
from app.widgets.photos import preview
from services.core.errors import ServiceError
from services.evaluation.breed_names import display
from services.evaluation.evaluation_records import EvaluationRecord
from services.evaluation.evaluations import EvaluationService
from services.evaluation.photo_results import PhotoResult

PER_PAGE = 12
COLUMNS = 4


def caption(result: PhotoResult) -> str:
    """What the model said of the photo and what it is; a "not a dog" answer says so first, with the breed it
    was nearest (as Predict words it), not as though it had named that breed."""
    if not result.top1:
        said = "said nothing"
    elif result.is_dog is False:
        said = f"said **not a dog** (nearest breed: {display(result.top1)}, {percent(result.confidence)})"
    else:
        said = f"said **{display(result.top1)}** ({percent(result.confidence)})"
    return f"{said}, is **{display(result.truth)}**"


def gallery(results: Sequence[PhotoResult], record: EvaluationRecord, key: str) -> None:
    pages = max(1, -(-len(results) // PER_PAGE))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"{key}_page"))
    shown = results[(page - 1) * PER_PAGE : page * PER_PAGE]
    service = EvaluationService(settings=current_settings())
    columns = st.columns(COLUMNS)
    for index, result in enumerate(shown):
        with columns[index % COLUMNS]:
            try:
                thumbnail = preview(service.photo(record.set_uri, result.key))
            except ServiceError as exc:
                thumbnail = None
                st.caption(exc.message)
            if thumbnail is not None:
                st.image(thumbnail, width="stretch")
            st.caption(f"{caption(result)}  \n`{result.key}`")
