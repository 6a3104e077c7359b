"""The autoscaling panel's answer to "why has it not scaled in?", with a countdown while it counts down."""

from __future__ import annotations

import streamlit as st

from app.widgets.jobs import duration
from services.serving.scale_in import ScaleInOutlook


def _periods(count: int, period_s: float) -> str:
    """`15 minutes` on AWS; `15 one-minute periods (15 s here)` on a localcloud with a shortened period."""
    if period_s == 60:
        return f"{count} minute{'s' if count != 1 else ''}"
    return f"{count} one-minute period{'s' if count != 1 else ''} ({duration(count * period_s)} here)"


def scale_in_text(outlook: ScaleInOutlook, period_s: float) -> str:
    """One paragraph: why there is or is no scale-in now, in the words of what AWS does."""
    threshold = f"{outlook.threshold:g}" if outlook.threshold is not None else "?"
    run = _periods(outlook.needed, period_s)
    cooldown = (
        f" The scale-in cooldown after the last scale-in has {duration(outlook.cooldown_left_s)} left."
        if outlook.cooldown_left_s > 0
        else ""
    )
    if outlook.verdict == "disabled":
        return "No scale-in: the policy has scale-in disabled, so only scale-outs and your own changes move the count."
    if outlook.verdict == "at_minimum":
        return f"No scale-in: {outlook.current} instance(s) is the minimum already."
    if outlook.verdict == "no_data":
        return (
            f"No scale-in while no requests arrive: a period without a request has no {outlook.metric} datapoint, "
            "AlarmLow then reads INSUFFICIENT_DATA, and an alarm without data scales nothing. The "
            f"{outlook.current} instances stay until traffic under {threshold} per instance has lasted {run} in a "
            "row, or you lower the count (or the maximum) yourself."
        )
    if outlook.verdict == "not_low":
        return (
            f"No scale-in: the last period's {outlook.metric} of {outlook.latest or 0:g} is not below AlarmLow's "
            f"threshold of {threshold} (10 % under the target)."
        )
    if outlook.verdict == "counting":
        return (
            f"Scale-in once {outlook.metric} stays under {threshold} for {run} in a row (AlarmLow's datapoints): "
            f"{outlook.low_in_a_row} of {outlook.needed} so far.{cooldown}"
        )
    return (
        f"AlarmLow has its {outlook.needed} low datapoints: a scale-in from {outlook.current} instances is due."
        f"{cooldown}"
    )


def scale_in_note(outlook: ScaleInOutlook | None, period_s: float) -> None:
    """The paragraph, and a countdown metric while a scale-in is on its way."""
    if outlook is None:
        return
    st.markdown("##### Scale-in")
    st.info(scale_in_text(outlook, period_s))
    if outlook.wait_s is not None and outlook.verdict in ("counting", "due"):
        st.metric(
            "Scale-in possible in about",
            duration(outlook.wait_s),
            help="If traffic stays this low: the low datapoints still to come, or the cooldown, whichever is longer.",
        )
