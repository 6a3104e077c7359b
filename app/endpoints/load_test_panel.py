"""The load-test panel: a bounded load against one target (an endpoint, or the Lambda function through
`FunctionTarget`), run by services/serving/load_test.py in threads kept in this session, with a live chart of
requests per second, latency p50/p99, errors and instances serving. The page polls it every second."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.endpoints.endpoint_charts import load_test_chart
from app.widgets.jobs import live
from services.core.errors import ServiceError
from services.serving.load_test import (
    LoadLimits,
    LoadPlan,
    LoadSnapshot,
    LoadTarget,
    LoadTest,
    RateShortfall,
    load_photos,
    photo_sets,
)

DEFAULT_SET = "dogs-wiki-133"


def load_test_panel(
    key: str,
    make_target: Callable[[], LoadTarget],
    *,
    limits: LoadLimits | None = None,
    on_finish: Callable[[LoadSnapshot], None] | None = None,
) -> None:
    """`key` keeps one test per target apart in the session; `on_finish` gets the last snapshot once."""
    limits = limits or LoadLimits()
    state_key = f"load_test_{key}"
    test: LoadTest | None = st.session_state.get(state_key)
    sets = photo_sets()
    with st.form(f"{state_key}_form", enter_to_submit=False):  # only the button starts a load
        rate_col, time_col, conc_col = st.columns(3)
        rps = rate_col.number_input(f"Requests per second (≤ {limits.max_rps:g})", value=8.0, step=1.0)
        duration = time_col.number_input(f"Duration, s (≤ {limits.max_duration_s})", value=60, step=10)
        concurrency = conc_col.number_input(f"In flight at most (≤ {limits.max_concurrency})", value=4, step=1)
        set_col, count_col = st.columns(2)
        photo_set = set_col.selectbox("Photos from", sets, index=sets.index(DEFAULT_SET) if DEFAULT_SET in sets else 0)
        photos = count_col.number_input(f"Photos (≤ {limits.max_photos})", value=20, step=5)
        start = st.form_submit_button("Start load test", disabled=test is not None and test.running())
    if start:
        plan = LoadPlan(float(rps), int(duration), int(concurrency), photo_set or "", int(photos))
        try:
            test = LoadTest(make_target(), plan, load_photos(plan.photo_set, plan.photos), limits=limits).start()
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.session_state[state_key] = test
            st.session_state.pop(f"{state_key}_reported", None)
    if test is None:
        return

    def progress() -> bool:
        snapshot = test.snapshot()
        answered, throttled, errors = st.columns(3)
        answered.metric("Answered", snapshot.answered)
        throttled.metric("Throttled", snapshot.throttled, help="Refused for being over a limit (HTTP 429)")
        errors.metric("Failed", snapshot.errors)
        sent_col, rate_col, instances_col = st.columns(3)
        sent_col.metric("Elapsed", f"{snapshot.elapsed_s:.0f} / {test.plan.duration_s} s")
        rate = snapshot.sent / snapshot.elapsed_s if snapshot.elapsed_s >= 1 else None
        rate_col.metric(
            "Sent per second",
            "…" if rate is None else f"{rate:.1f} of {test.plan.rps:g}",
            help="Requests sent per second so far, against the rate asked for.",
        )
        if test.target.counts_instances:
            current = next((s.instances for s in reversed(snapshot.seconds) if s.instances is not None), None)
            instances_col.metric("Instances serving", "…" if current is None else current)
        st.plotly_chart(load_test_chart(snapshot), key=f"{state_key}_chart")
        if snapshot.shortfall is not None:
            st.info(shortfall_text(snapshot.shortfall))
        if snapshot.throttled and snapshot.last_throttle:
            st.caption(f"Last throttled request: {snapshot.last_throttle}")
        if snapshot.errors and snapshot.last_error:
            st.warning(f"Last failure: {snapshot.last_error}")
        if snapshot.running:
            if st.button("Stop load test", key=f"{state_key}_stop"):
                test.stop()
        else:
            st.caption(
                f"Finished: {snapshot.answered} answered, {snapshot.throttled} throttled, {snapshot.errors} failed, "
                f"on {test.target.label}."
            )
            if on_finish and not st.session_state.get(f"{state_key}_reported"):
                st.session_state[f"{state_key}_reported"] = True
                on_finish(snapshot)
        return snapshot.running

    live(state_key, progress, every="1s")


def shortfall_text(shortfall: RateShortfall) -> str:
    """The asked rate against the rate reached, and what held it back."""
    head = (
        f"Asked for {shortfall.requested_rps:g} requests per second; {shortfall.sent_rps:.1f} were sent and "
        f"{shortfall.answered_rps:.1f} answered per second."
    )
    ceiling = shortfall.ceiling_rps
    if shortfall.concurrency_bound and ceiling is not None:
        return (
            f"{head} At most {shortfall.concurrency} requests are in flight and each took about "
            f"{(shortfall.mean_latency_ms or 0) / 1000:.2f} s, so no more than about {ceiling:.1f} per second can go "
            "out: raise 'In flight at most' to push harder. If latency then climbs with it, the target is at its "
            "limit, which is what the suggested target wants."
        )
    return (
        f"{head} The cap on requests in flight did not hold it back: the dashboard's own machine could not send "
        "them faster (its CPU is busy)."
    )
