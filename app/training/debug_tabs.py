"""The Debugger and Profiler tabs of a SageMaker job's page and of an EC2 training machine: the run's own
recording drawn, its rules judged (and re-judged with the operator's parameters), live while it runs and
still once it has ended."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.training.debugger_view import Chart, debugger_charts, loss_chart, rules_table
from app.training.profiler_view import (
    hosts_note,
    html_report,
    phase_chart,
    phase_table,
    profiler_table,
    step_histogram,
    system_charts,
    usage_table,
)
from app.widgets.formatting import timestamp as when
from app.widgets.jobs import live
from classifier.rules.debugger_rules import RuleResult
from services.core.errors import ServiceError
from services.training.debugging import (
    DebuggingService,
    JobRecording,
    check_rule_parameters,
    evaluate_rules,
    profiler_report,
    rule_specs,
)


def _overrides_key(key: str) -> str:
    return f"{key}_rule_overrides"


Loader = Callable[[], JobRecording]
"""Reads the recording again (each refresh): a SageMaker job's by its name, an EC2 machine's by its S3 prefix."""


def _loader(service: DebuggingService, name: str, load: Loader | None) -> Loader:
    return load or (lambda: service.job_recording(name))


def _recording(load: Loader, key: str) -> JobRecording | None:
    try:
        data = load()
    except ServiceError as exc:
        st.error(exc.message)
        return None
    st.session_state[f"{key}_recording"] = data
    if data.location:
        st.caption(f"Recording: {data.location} · {data.files} file(s), {data.bytes / 2**20:.1f} MB")
    for note in data.notes:  # a running job that has recorded nothing yet is not a problem
        (st.info if data.running and not data.files else st.warning)(note)
    return data


def debugger_tab(service: DebuggingService, name: str, key: str, load: Loader | None = None) -> None:
    """The form that re-evaluates one rule, then charts and rules (live while the job runs). ``load`` reads
    a recording that is not a SageMaker job's (an EC2 machine's); by default, job ``name``'s."""
    load = _loader(service, name, load)

    def part() -> bool:
        data = _recording(load, f"{key}_dbg")
        if data is None:
            return False
        if data.empty:
            return data.running
        results = evaluate_rules(data, st.session_state.get(_overrides_key(key), {}))
        st.markdown(_rules_headline(results, data.running))
        st.table(rules_table(results), hide_index=True, border="horizontal")  # wraps its prose: nothing cut off
        rec = data.recording
        _draw(st.container(), loss_chart(rec, results), key)
        _two_a_row(debugger_charts(rec), key)
        if data.statuses:
            st.markdown("Statuses on the job (DescribeTrainingJob):")
            st.table(
                pd.DataFrame(
                    [
                        {
                            "rule": s.configuration,
                            "kind": s.kind,
                            "status": s.status,
                            "details": s.details,
                            "updated": when(s.modified),
                        }
                        for s in data.statuses
                    ]
                ),
                hide_index=True,
                border="horizontal",
            )
        return data.running

    _rule_form(key)  # first, so the charts below already use what the operator just submitted
    live(f"{key}_debugger", part, every="5s")


def _rules_headline(results: list[RuleResult], running: bool) -> str:
    """How many rules found issues, and while the job runs, how many still wait for data to judge."""
    fired = sum(r.status == "IssuesFound" for r in results)
    waiting = sum(r.status == "InProgress" and r.details.startswith("Waiting for data") for r in results)
    line = f"**Rules:** {fired} of {len(results)} found issues"
    if running:
        line += f"; {waiting} waiting for data the job has not recorded yet" if waiting else " (job still running)"
    return line


def _draw(where: DeltaGenerator, chart: Chart, key: str) -> None:
    """A chart under its title with its note under it (keyed ``<key>_chart_<title>``); a chart with nothing to
    draw leaves only its note."""
    if chart.figure is not None:
        where.markdown(f"**{chart.title}**")
        where.plotly_chart(chart.figure, key=f"{key}_chart_{chart.title}")
    if chart.note:
        where.caption(chart.note)


def _two_a_row(charts: list[Chart], key: str) -> None:
    """Charts two to a row."""
    for i in range(0, len(charts), 2):
        for column, chart in zip(st.columns(2), charts[i : i + 2], strict=False):
            _draw(column, chart, key)


def _rule_form(key: str) -> None:
    specs = rule_specs()
    overrides: dict[str, dict[str, object]] = st.session_state.setdefault(_overrides_key(key), {})
    with st.expander("Re-evaluate a rule with other parameters"):
        rule = st.selectbox("Rule", list(specs), key=f"{key}_rule_pick")
        spec = specs[rule]
        st.caption(f"{spec.about} Defaults are SageMaker's.")
        with st.form(f"{key}_rule_form_{rule}"):
            typed = {}
            current = overrides.get(rule, {})
            for parameter in spec.parameters:
                allowed = parameter.range_text() if parameter.kind in (int, float) else parameter.kind.__name__
                typed[parameter.name] = st.text_input(
                    f"{parameter.name} ({allowed})",
                    value=str(current.get(parameter.name, parameter.default)),
                    key=f"{key}_{rule}_{parameter.name}",
                )
            apply, reset = st.columns(2)
            submitted = apply.form_submit_button("Re-evaluate")
            restored = reset.form_submit_button("Back to defaults")
        if submitted:
            try:
                check_rule_parameters(rule, typed)
            except ServiceError as exc:
                st.error(exc.message)  # the rule keeps the parameters it had; nothing typed is lost
                return
            overrides[rule] = typed
            st.success(f"{rule} re-evaluated with these parameters.")
        if restored:
            overrides.pop(rule, None)


def profiler_tab(service: DebuggingService, name: str, key: str, load: Loader | None = None) -> None:
    """System use per host, step durations, where the time went, ProfilerReport; live while the job runs."""
    load = _loader(service, name, load)

    def part() -> bool:
        data = _recording(load, f"{key}_prof")
        if data is None:
            return False
        if data.empty:
            return data.running
        rec = data.recording
        results, usage = profiler_report(data)
        note = hosts_note(rec)
        if note:
            st.caption(note)
        st.markdown("**ProfilerReport** (rules sorted by times triggered)")
        # A table, as the Debugger's rules: the details and the recommendation wrap instead of being cut off.
        st.table(profiler_table(results), hide_index=True, border="horizontal")
        phases = phase_chart(phase_table(rec))
        histogram, outliers = step_histogram(rec)
        if histogram is not None:
            histogram = replace(histogram, note=f"{outliers} step(s) beyond mean + 3 standard deviations.")
        _two_a_row([chart for chart in (phases, histogram) if chart is not None], key)
        charts = system_charts(rec)
        if not charts:
            st.info("No system samples were recorded.")
        _two_a_row(charts, key)
        st.markdown("System usage (OverallSystemUsage)")
        st.dataframe(usage_table(usage), hide_index=True, width="stretch")
        st.session_state[f"{key}_prof_results"] = (results, usage)
        return data.running

    live(f"{key}_profiler", part, every="5s")
    data: JobRecording | None = st.session_state.get(f"{key}_prof_recording")
    report = st.session_state.get(f"{key}_prof_results")
    if data is not None and report is not None and not data.empty:
        if st.button("Prepare the HTML report", key=f"{key}_report"):
            st.session_state[f"{key}_report_html"] = html_report(name, data.recording, *report)
        prepared = st.session_state.get(f"{key}_report_html")
        if prepared:
            st.download_button(
                "Download the profiler report (HTML)",
                prepared,
                file_name=f"{name}-profiler-report.html",
                mime="text/html",
                key=f"{key}_report_download",
            )
