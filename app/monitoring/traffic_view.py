"""What the endpoint was sent and answered on a day: requests, confidence, "not a dog" and low-confidence shares,
input sizes and content types, all from the captures' summaries."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.monitoring.monitor_charts import confidence_chart, confidence_histogram, requests_chart, sizes_chart
from app.widgets.formatting import percent
from services.monitoring.capture_store import DayCaptures


def traffic_section(captures: DayCaptures, low: float) -> None:
    summary = captures.summary
    requests, answered = summary.requests, summary.answered
    cols = st.columns(4)
    cols[0].metric("Requests captured", f"{requests:,}")
    cols[1].metric("Not a dog", percent(summary.not_dog / answered) if answered else "–")
    cols[2].metric(f"Confidence under {low:.0%}", percent(summary.low_confidence(low) / answered) if answered else "–")
    cols[3].metric("Unreadable records", f"{summary.unreadable:,}")
    if summary.unreadable:
        st.warning(
            f"{summary.unreadable:,} captured lines are not capture records (cut short, or not JSON) and are left "
            "out of every figure below."
        )
    if requests and not answered:
        st.info(
            "No answers in these captures: the endpoint captures its input only, or answers in a format the "
            "dashboard does not read. Breeds, confidence and drift need the output captured too."
        )
    left, right = st.columns(2)
    left.markdown("**Requests over the day** (UTC)")
    left.plotly_chart(requests_chart(summary.per_minute), key="monitor_requests")
    right.markdown("**Confidence over the day**: mean top-1 score")
    right.plotly_chart(confidence_chart(summary.per_minute), key="monitor_confidence")
    left, right = st.columns(2)
    left.markdown("**Confidence of the answers**")
    left.plotly_chart(confidence_histogram(summary.confidence_histogram, low), key="monitor_histogram")
    right.markdown("**Input sizes**")
    if summary.size_bins:
        right.plotly_chart(sizes_chart(summary.size_bins), key="monitor_sizes")
        types = pd.DataFrame(
            [{"content type": t, "requests": n} for t, n in summary.content_types.most_common()]
        ).set_index("content type")
        right.dataframe(types, width="stretch")
    else:
        right.caption("No inputs captured (capture mode Output only).")
    st.caption(
        f"Read from {captures.files:,} capture "
        + ("file through its summary" if captures.files == 1 else "files through their summaries")
        + (f"; {captures.summarised_now:,} counted just now." if captures.summarised_now else ".")
    )
    for note in captures.notes:
        st.warning(note)
