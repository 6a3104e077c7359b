"""The Tuning job page's plots against a real localcloud tuning job of two 2-epoch trials: only the open plot
tab is built, trials are counted from 1 as their names count them, importance from two trials says it is a
hint, and the objective printed once after training sits at each trial's last epoch."""

from __future__ import annotations

import time
from dataclasses import replace

from services.core.clients import CloudSettings
from services.training.job_spec import TrainingSpec
from services.tuning.spec import ORIGINAL_RANGES, ParameterRange, generate_tuning_name, original_preset
from services.tuning.tuner import TuningService
from tests.pages.charts.plotly_specs import chart_specs, webgl_charts
from tests.pages.test_pages_tuning_localcloud import open_page, tiny  # noqa: F401


def test_plots_build_only_the_open_tab_and_count_as_the_trials_do(aws_env, tiny) -> None:  # noqa: F811
    service = TuningService(settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    spec = original_preset(
        TrainingSpec(job_name="x", data_uri=tiny, output_path=service.training.default_output_path(), epochs=2),
        name=generate_tuning_name("page-plots"),
    )
    spec = replace(spec, ranges=(ORIGINAL_RANGES[0], ParameterRange("batch_size", "Categorical", values=("2", "4"))))
    service.launch(spec)
    deadline = time.monotonic() + 300
    while not service.describe(spec.name).ended and time.monotonic() < deadline:
        time.sleep(1)
    at = open_page("app_pages/tuning_job.py", tuning_job=spec.name)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Status"] == "Completed"

    (history,) = chart_specs(at)  # the first tab's chart alone
    assert history["layout"]["xaxis"]["title"]["text"] == "trial"
    assert sorted(history["data"][0]["x"]) == [1, 2]  # trials -001 and -002, not 0 and 1
    assert history["layout"]["xaxis"]["tickformat"] == "d"

    key = f"tuning_{spec.name}_plot_tab"
    at.session_state[key] = "Hyperparameter importance"
    at.run()
    assert len(chart_specs(at)) == 1 and not webgl_charts(at)
    assert any(c.value.startswith("Estimated from only 2 trials with an objective") for c in at.caption)

    at.session_state[key] = "Objective per epoch"
    at.run()
    (epochs,) = chart_specs(at)
    assert [list(trace["x"]) for trace in epochs["data"]] == [[2], [2]]  # Test Loss, printed after epoch 2
    assert any(c.value.startswith("Test Loss is printed once per trial, after training") for c in at.caption)
