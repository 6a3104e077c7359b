"""The drift schedule (services/monitoring/drift_schedule.py) running in the dashboard's server process: one thread
for the whole server, started by the first page view, scoring every endpoint with a drift alarm each
DASHBOARD_DRIFT_EVERY_S seconds (default 300; 0 turns it off) with the dashboard's own credentials."""

from __future__ import annotations

import logging
import os
import threading
import time

import streamlit as st

from services.core.clients import CloudSettings
from services.monitoring.drift_schedule import DriftSchedule

EVERY_ENV = "DASHBOARD_DRIFT_EVERY_S"
DEFAULT_EVERY_S = 300.0
_log = logging.getLogger(__name__)


def schedule_every_s() -> float:
    """The schedule's period from the environment: the default when unset or unreadable, 0 for off."""
    try:
        return max(0.0, float(os.environ.get(EVERY_ENV, DEFAULT_EVERY_S)))
    except ValueError:
        return DEFAULT_EVERY_S


def start_drift_schedule() -> None:
    """Start the server's schedule thread once (a no-op on every later call, and when it is off)."""
    every = schedule_every_s()
    if every > 0:
        _started(every)


@st.cache_resource(show_spinner=False)
def _started(every: float) -> threading.Thread:
    settings = CloudSettings.from_env()

    def loop() -> None:
        while True:
            time.sleep(every)
            try:
                for run in DriftSchedule(settings).run_once():
                    if run.problem:
                        _log.warning("drift schedule: endpoint %s: %s", run.endpoint, run.problem)
            except Exception as exc:  # noqa: BLE001 - a failed run must not end the schedule
                _log.warning("drift schedule: %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=loop, name="drift-schedule", daemon=True)
    thread.start()
    return thread
