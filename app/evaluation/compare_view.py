"""Two evaluations of the same set side by side: both accuracies, the breeds each wins, McNemar's test on the
photos they disagree about, and the winner one click from an endpoint (the deploy panel the job pages use)."""

from __future__ import annotations

import streamlit as st

from app.endpoints.deploy_panel import deploy_panel
from app.evaluation.results_view import interval
from app.widgets.formatting import percent
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.evaluation.breed_names import display
from services.evaluation.comparison import Comparison, compare
from services.evaluation.evaluation_records import EvaluationRecord
from services.evaluation.evaluations import EvaluationService


def verdict_text(found: Comparison, a: str, b: str) -> str:
    test = found.test
    figures = f"p = {test.p_value:.3g}, {test.method}, {test.only_a} photos only A got right, {test.only_b} only B"
    if found.verdict == "noise":
        return f"The difference is **noise** at 95 % ({figures}): neither model is shown to be better on this set."
    winner = a if found.verdict == "a" else b
    return f"The difference is **real** at 95 % ({figures}): **{winner}** is better on this set."


def wins(rows: list[tuple[str, int, int]]) -> str:
    return ", ".join(f"{display(breed)} ({x} vs {y})" for breed, x, y in rows) or "none"


def compare_view(settings: CloudSettings, evaluations: list[EvaluationRecord]) -> None:
    ended = [r for r in evaluations if r.ended and r.scored]
    if len(ended) < 2:
        st.info("Two ended evaluations are needed: evaluate two models on the same labelled set first.")
        return
    labels = [r.label for r in ended]
    left, right = st.columns(2)
    first = left.selectbox("Model A", labels, index=0, key="compare_a")
    same_set = [r.label for r in ended if r.set_uri == ended[labels.index(first)].set_uri and r.label != first]
    if not same_set:
        st.info("No other ended evaluation used the same labelled set as A; evaluate another model on it.")
        return
    second = right.selectbox("Model B (same set)", same_set, key="compare_b")
    a, b = ended[labels.index(first)], ended[labels.index(second)]
    service = EvaluationService(settings=settings)
    try:
        found = compare(service.results(a), service.results(b))
    except ServiceError as exc:
        st.error(exc.message)
        return
    name_a, name_b = f"A ({a.model_origin})", f"B ({b.model_origin})"
    one, two = st.columns(2)
    one.metric(f"Top-1, {name_a}", percent(found.a.value), border=True)
    one.caption(interval(found.a))
    two.metric(f"Top-1, {name_b}", percent(found.b.value), border=True)
    two.caption(interval(found.b))
    st.markdown(verdict_text(found, name_a, name_b))
    st.caption(f"On the {found.photos} photos both evaluated. McNemar's test looks only at photos they disagree on.")
    st.markdown(f"**Breeds {name_a} gets right more often**: {wins(found.wins_a)}")
    st.markdown(f"**Breeds {name_b} gets right more often**: {wins(found.wins_b)}")
    if found.verdict == "noise":
        winner = a if found.a.value >= found.b.value else b
        st.caption(f"Deploying {winner.model_origin}, the more accurate here, is a choice the test does not back.")
    else:
        winner = a if found.verdict == "a" else b
    deploy_panel(settings, winner.model_data_url, winner.model_name, f"compare_{winner.name}")
