"""With the cloud down, the Tune and Tuning job pages say so and what to do; no tracebacks, and a launch is
refused before any upload."""

from app.tuning.tuning_state import ranges_frame
from services.tuning.spec import ParameterRange
from tests.pages.conftest import dashboard


def test_tune_page_with_the_cloud_down(dead_cloud: str) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/tune.py").run()
    assert not at.exception
    assert any("The cloud is down or unreachable" in e.value for e in at.error)
    at.text_input(key="tune_data_uri").set_value("s3://bucket/data/").run()
    at.text_input(key="tune_output").set_value("s3://bucket/out/").run()
    at.button(key="tune_launch").click().run()
    assert not at.exception
    assert any(e.value.startswith("The cloud is down or unreachable") for e in at.error)


def test_tuning_job_page_with_the_cloud_down_and_a_bad_name(dead_cloud: str) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/tuning_job.py")
    at.query_params["tuning_job"] = "some-tuning"
    at.run()
    assert not at.exception
    assert any("The cloud is down or unreachable" in e.value for e in at.error)
    at.query_params["tuning_job"] = "not_a_valid_name"
    at.run()
    assert [e.value for e in at.error] == [
        "'not_a_valid_name' is not a valid tuning job name: 1–32 letters, digits and hyphens, starting and ending "
        "with a letter or digit."
    ]


def test_the_form_counts_grid_trials_and_refuses_before_any_call(dead_cloud: str) -> None:
    """Refusals come from the spec's own checks, so they read the same with the cloud down: nothing is sent."""
    at = dashboard().run()
    at.switch_page("app_pages/tune.py").run()
    at.text_input(key="tune_data_uri").set_value("s3://bucket/data/").run()
    at.text_input(key="tune_output").set_value("s3://bucket/out/").run()
    at.radio(key="tune_strategy").set_value("Grid").run()
    at.button(key="tune_launch").click().run()
    assert any("The Grid search strategy supports only categorical hyperparameter ranges" in e.value for e in at.error)
    at.session_state["tune_ranges_source"] = ranges_frame(
        (ParameterRange("batch_size", "Categorical", values=("16", "32", "64")),)
    )
    at.run()
    at.checkbox(key="tune_all_combinations").check().run()
    assert any(i.value.startswith("Grid: 3 combinations, so 3 trials; 2 at a time") for i in at.info)
    at.radio(key="tune_strategy").set_value("Hyperband").run()
    at.radio(key="tune_early_stopping").set_value("Auto").run()
    at.number_input(key="tune_max_jobs").set_value(2).run()
    at.button(key="tune_launch").click().run()
    assert not at.exception
    assert any("must be Off with the Hyperband strategy" in e.value for e in at.error)
