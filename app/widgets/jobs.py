"""UI pieces for the Data, Train and Job pages: live refresh, the dataset table, money and time."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from services.data.dataset_summary import DatasetSummary
from services.evaluation.breed_names import display


def live(key: str, body: Callable[[], bool], *, every: str = "2s") -> None:
    """Run `body` in a fragment that re-runs every `every` while `body` returns True (something is still
    running), and not at all once it returns False.

    A fragment's timer is fixed when it is created, so a change of state triggers one full rerun that
    re-creates it with or without the timer.
    """
    state_key = f"live_{key}"
    running = st.session_state.get(state_key, False)

    @st.fragment(run_every=every if running else None)
    def fragment() -> None:
        still_running = body()
        if still_running != st.session_state.get(state_key, False):
            st.session_state[state_key] = still_running
            st.rerun()

    fragment()


def usd(value: float | None) -> str:
    """`$0.0383`, `$12.50`; `n/a` for a cost the dashboard cannot work out."""
    if value is None:
        return "n/a"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def duration(seconds: float | None) -> str:
    """`45 s`, `12 min 3 s`, `2 h 05 min`."""
    if seconds is None:
        return "n/a"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def dataset_frame(summary: DatasetSummary) -> pd.DataFrame:
    """Images per class and split, for the Data page: the folder as it is in S3, and the breed as every page
    names it."""
    return pd.DataFrame(
        {
            "class": [c.name for c in summary.classes],
            "breed": [display(c.name) for c in summary.classes],
            "train": [c.train for c in summary.classes],
            "valid": [c.valid for c in summary.classes],
            "test": [c.test for c in summary.classes],
        }
    )
