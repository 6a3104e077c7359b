"""The Security page's Event history: the account's CloudTrail events, newest first, filtered as the CloudTrail
console filters them (one lookup attribute, a time window), fifty at a time, each event's record one click away."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from app.widgets.formatting import timestamp
from services.core.errors import ServiceError
from services.security.event_history import RETENTION, EventHistoryService, HistoryEvent, attribute_keys

ALL = "All events"
WINDOWS = {
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 90 days": RETENTION,
}
_STATE = "event_history"
_SERIAL = "event_history_serial"


@dataclass
class Lookup:
    """What was asked (kept, so "Load more" continues the same lookup) and what came back so far."""

    key: str | None
    value: str
    start: datetime
    end: datetime
    events: list[HistoryEvent]
    next_token: str | None
    serial: int
    """Which lookup of the visit this is: the table's key, so a row picked in one lookup's table is not
    picked, by its number, in the next one's."""


def events_frame(events: list[HistoryEvent]) -> pd.DataFrame:
    """The console's columns: time, user name, event name, source, resources, error; read-only as yes/no."""
    return pd.DataFrame(
        [
            {
                "event time": timestamp(e.time),
                "user name": e.user,
                "event name": e.name,
                "event source": e.source,
                "resources": ", ".join(e.resources),
                "read-only": {True: "yes", False: "no"}.get(e.read_only, ""),
                "error": e.error,
            }
            for e in events
        ],
        columns=["event time", "user name", "event name", "event source", "resources", "read-only", "error"],
    )


def _look_up(service: EventHistoryService, key: str | None, value: str, window: timedelta) -> None:
    end = datetime.now(UTC)
    try:
        page = service.page(key, value, end - window, end)
    except ServiceError as exc:
        st.session_state.pop(_STATE, None)
        st.error(exc.message)
        return
    serial = st.session_state[_SERIAL] = st.session_state.get(_SERIAL, -1) + 1
    st.session_state[_STATE] = Lookup(key, value, end - window, end, list(page.events), page.next_token, serial)


def _load_more(service: EventHistoryService, lookup: Lookup) -> bool:
    """The lookup's next page appended; False (and the reason on the page) when it could not be read."""
    try:
        page = service.page(lookup.key, lookup.value, lookup.start, lookup.end, lookup.next_token)
    except ServiceError as exc:
        st.error(exc.message)
        return False
    lookup.events.extend(page.events)
    lookup.next_token = page.next_token
    return True


def event_history_view(service: EventHistoryService) -> None:
    """Filter, table, "Load more" and the chosen event's record; the first look (the last 24 hours, every
    event) is made on arrival, as the console opens on its newest events."""
    attribute, value_col, window_col = st.columns([2, 3, 2])
    key = attribute.selectbox("Lookup attribute", [ALL, *attribute_keys()], key="eh_key")
    value = value_col.text_input(
        "Value", key="eh_value", disabled=key == ALL, placeholder="e.g. InvokeEndpoint, or a role's session name"
    )
    window = window_col.selectbox("Time window", list(WINDOWS), index=1, key="eh_window")
    chosen_key = None if key == ALL else key
    if st.button("Look up", key="eh_lookup", type="primary") or _STATE not in st.session_state:
        _look_up(service, chosen_key, value.strip() if chosen_key else "", WINDOWS[window])
    lookup: Lookup | None = st.session_state.get(_STATE)
    if lookup is None:
        return
    asked = f"{lookup.key} = {lookup.value}" if lookup.key else "every event"
    st.caption(
        f"{len(lookup.events)} event(s), newest first: {asked}, {timestamp(lookup.start)} to {timestamp(lookup.end)}."
    )
    if not lookup.events:
        st.info("No events in this window match.")
        return
    picked = st.dataframe(
        events_frame(lookup.events),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"eh_table_{lookup.serial}",
    )
    more, download = st.columns([1, 3])
    if lookup.next_token and more.button("Load more", key="eh_more") and _load_more(service, lookup):
        st.rerun()
    download.download_button(
        "Download these events (JSON)",
        json.dumps([e.record for e in lookup.events], indent=2, default=str),
        file_name="event-history.json",
        mime="application/json",
        key="eh_download",
    )
    rows = [row for row in (picked.selection.rows if picked else []) if row < len(lookup.events)]
    if rows:
        event = lookup.events[rows[0]]
        st.markdown(f"**{event.name}** by {event.user or 'an AWS service'}, {timestamp(event.time)}")
        st.json(event.record, expanded=2)
    else:
        st.caption("Pick a row to read its whole CloudTrail record.")
