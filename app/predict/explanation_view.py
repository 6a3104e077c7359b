"""Under a classified photo: "Why this breed?", then where the model looked and what finding out cost."""

import math

import streamlit as st

from app.auth import ANONYMOUS_REFILL_S, prediction_wait, visitor
from app.predict.explanation_charts import heat_overlay_chart
from app.widgets import cache
from app.widgets.formatting import ms, percent
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.evaluation.breed_names import display
from services.serving.explanation import Explanation, ExplanationService
from services.serving.photo_checks import format_size
from services.serving.prediction import Prediction

_OPENED = "predict_explanations_opened"


def explanation_section(
    service: ExplanationService, *, data: bytes | None, prediction: Prediction, settings: CloudSettings, index: int
) -> None:
    """One click opens the heat map for this photo on the target that classified it; it stays open across
    reruns, and a photo and model it was drawn for before come back at once (app/widgets/cache.py)."""
    if not prediction.breeds:
        return
    if data is None:
        st.caption("Where the model looked is drawn for uploaded photos and camera shots, not for URLs.")
        return
    label = prediction.breeds[0].label
    opened = st.session_state.setdefault(_OPENED, set())
    place = (cache.image_key(data), prediction.via, prediction.target, label)
    if place not in opened:
        _ask_button(f"Why {display(label)}?", place, index)
        return
    try:
        model = service.identify(prediction.via, prediction.target)
        key = cache.explanation_key(data=data, label=label, model=model, settings=settings)
        if not cache.remembered(key):
            wait = prediction_wait(visitor())  # one heat map costs a guest one classification
            if wait:
                st.warning(
                    f"Guests draw one more heat map every {ANONYMOUS_REFILL_S:.0f} s. "
                    f"Try again in {math.ceil(wait)} s, or sign in."
                )
                _try_again(place, index)
                return
        bar = st.progress(0.0, text="Covering the photo a patch at a time…")

        def show_progress(done: int, total: int) -> None:
            bar.progress(done / total, text=f"Masked copies answered: {done} of {total}")

        try:
            explanation, remembered = cache.explain(
                service,
                data=data,
                label=label,
                model=model,
                settings=settings,
                progress=show_progress,
            )
        finally:
            bar.empty()
    except ServiceError as exc:
        st.error(f"Could not draw where the model looked: {exc.message}")
        _try_again(place, index)
        return
    _show(explanation, remembered=remembered, index=index)
    if not explanation.complete:
        _try_again(place, index)


def _ask_button(label: str, place: tuple[str, str, str, str], index: int) -> None:
    st.button(
        label,
        key=f"predict_explain_{index}",
        icon=":material/visibility:",
        help="Cover the photo a patch at a time and ask the same model again: where covering lowers the "
        "breed's score is where the model looked. About 50 calls to the model.",
        on_click=st.session_state[_OPENED].add,
        args=(place,),
    )


def _try_again(place: tuple[str, str, str, str], index: int) -> None:
    """After a failure the section closes, so no later rerun sends 50 calls unasked; the button asks again."""
    st.session_state[_OPENED].discard(place)
    _ask_button("Try again", place, index)


def _show(explanation: Explanation, *, remembered: bool, index: int) -> None:
    name = display(explanation.label)
    if explanation.is_dog is False:
        st.info(f"The model says this is not a dog; the map shows where it looked for its top breed, {name}, anyway.")
    chart = heat_overlay_chart(explanation)
    if explanation.complete:
        # The map compares with its own unmasked copy (shrunk and re-encoded as the masked ones are), whose score
        # can differ a little from the classification's: say so, or two scores for one photo read as a bug.
        st.markdown(
            f"**Where the model looked for {name}** ({percent(explanation.base_score)} on the map's unmasked copy, "
            "re-encoded as the masked ones are: it can differ a little from the score above)"
        )
        st.plotly_chart(chart, key=f"predict_heat_{index}", width="content")
    else:
        st.error(
            f"The heat map is incomplete: {explanation.answered} of {explanation.total} masked copies answered, "
            f"then the target failed: {explanation.error}"
        )
        with st.expander(f"Partial map ({explanation.answered} of {explanation.total} patches): not the whole picture"):
            st.plotly_chart(chart, key=f"predict_heat_{index}", width="content")
    if explanation.bounded:
        st.caption(
            f"In {explanation.bounded} masked copies {name} fell out of the top 5 answers; its score there is "
            "taken as the fifth breed's, so those drops are if anything understated."
        )
    st.caption(cost_line(explanation, remembered=remembered))


def cost_line(explanation: Explanation, *, remembered: bool) -> str:
    """`50 calls (1 reference + 49 masked copies, 4 at a time) · 2.66 s · 0.8 MB sent · notional $0.000085 (…)`."""
    cost = explanation.cost
    parts = [
        f"{cost.calls} calls (1 reference + {cost.calls - 1} masked copies, {cost.workers} at a time)",
        ms(cost.wall_s * 1000),
        f"{format_size(cost.sent_bytes)} sent",
        f"notional ${cost.usd:.6f}: {cost.basis}" if cost.usd is not None else cost.basis,
    ]
    text = " · ".join(parts)
    return f"Remembered from an earlier click ({text})" if remembered else text
