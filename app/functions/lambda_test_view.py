"""The Lambda page's Test tab, like the console's: an event (presets: the original project's `{"url": ...}` and
`{"image": <base64>}`), sent to the function or a version or alias, then the response, the log tail and the
REPORT line."""

from __future__ import annotations

import streamlit as st

from app.widgets.formatting import ms
from services.core.errors import ServiceError
from services.functions.test_events import (
    SAMPLE_URL,
    InvocationResult,
    LambdaTestService,
    image_event,
    sample_image_event,
    url_event,
)

EVENT_KEY = "lambda_test_event"
_RESULT = "lambda_test_result"


def _set_event(text: str) -> None:
    st.session_state[EVENT_KEY] = text


def invoke_tab(service: LambdaTestService, function: str, qualifiers: list[str]) -> None:
    st.session_state.setdefault(EVENT_KEY, url_event(SAMPLE_URL))
    presets = st.columns(3)
    if presets[0].button("Preset: url", key="lambda_preset_url", help='The original project\'s {"url": ...} event'):
        _set_event(url_event(SAMPLE_URL))
    if presets[1].button("Preset: image (sample photo)", key="lambda_preset_image"):
        try:
            _set_event(sample_image_event())
        except ServiceError as exc:
            st.error(exc.message)
    photo = presets[2].file_uploader(
        "…or an image event from a photo", type=["jpg", "jpeg", "png", "webp", "gif"], key="lambda_test_photo"
    )
    if photo is not None and st.session_state.get("lambda_test_photo_id") != photo.file_id:
        st.session_state["lambda_test_photo_id"] = photo.file_id
        _set_event(image_event(photo.getvalue()))
    qualifier = st.selectbox("Invoke", ["(unqualified: $LATEST)", *qualifiers], key="lambda_test_qualifier")
    st.text_area("Event JSON", key=EVENT_KEY, height=160)
    if st.button("Test", type="primary", key="lambda_test_run"):
        try:
            with st.spinner("Invoking…"):
                st.session_state[_RESULT] = service.invoke(
                    function, st.session_state[EVENT_KEY], None if qualifier.startswith("(") else qualifier
                )
        except ServiceError as exc:
            st.session_state.pop(_RESULT, None)
            st.error(exc.message)
    result: InvocationResult | None = st.session_state.get(_RESULT)
    if result is not None:
        result_view(result)


def result_view(result: InvocationResult) -> None:
    """The outcome as the console shows it: succeeded or failed, the response, the log tail, the summary."""
    version = f" · executed version {result.executed_version}" if result.executed_version else ""
    headline = f"Status {result.status_code}{version} · round trip {ms(result.round_trip_ms)}"
    if result.succeeded:
        st.success(f"Execution succeeded. {headline}")
    else:
        st.error(f"Execution failed ({result.function_error}). {headline}")
    st.markdown("**Response**")
    st.code(result.payload, language="json", wrap_lines=True)
    if result.body is not None:
        with st.expander("Body, decoded (the handler returns it as a JSON string)"):
            st.json(result.body)
    report = result.report
    if report is not None:
        cells = st.columns(4)
        cells[0].metric("Duration", ms(report.duration_ms))
        cells[1].metric("Billed duration", f"{report.billed_ms} ms")
        cells[2].metric("Max memory used", f"{report.max_memory_used_mb} MB", help=f"of {report.memory_mb} MB")
        cells[3].metric("Init duration", ms(report.init_ms) if report.init_ms is not None else "warm")
        st.caption(f"Request ID {report.request_id}")
    st.markdown("**Log output** (the last 4 KB, as `LogType=Tail` returns it)")
    st.code(result.log_tail or "(no log output)", language=None, wrap_lines=True)
