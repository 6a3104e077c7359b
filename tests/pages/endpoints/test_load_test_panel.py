"""The load-test panel under AppTest against the fast localcloud: what it says about throttles, failures, the
rate reached and instances, on the Lambda page (the endpoint's panel is the same code)."""

from __future__ import annotations

from tests.conftest import DEFAULT_FUNCTION
from tests.pages.conftest import dashboard


def by_label(widgets, label: str):
    return next(w for w in widgets if w.label.startswith(label))


def forms(node) -> list:
    """Every st.form block under `node` of the AppTest tree."""
    found = [node] if getattr(node, "type", None) == "form" else []
    for child in getattr(node, "children", {}).values():
        found += forms(child)
    return found


def test_a_throttled_function_load_reads_as_throttles_not_failures_and_has_no_instance_count(fast_env) -> None:
    lambda_client = fast_env.client("lambda")
    # A reservation of 0 throttles every call, however fast the machine answers (1 throttles only overlaps).
    lambda_client.put_function_concurrency(FunctionName=DEFAULT_FUNCTION, ReservedConcurrentExecutions=0)
    try:
        at = dashboard()
        at.query_params["function"] = DEFAULT_FUNCTION
        at.switch_page("app_pages/lambda.py").run()
        at.radio(key="lambda_view").set_value("Concurrency").run()
        assert not at.exception
        load_forms = [f.proto.form for f in forms(at.main) if f.proto.form.form_id.startswith("load_test_")]
        assert load_forms and not any(f.enter_to_submit for f in load_forms)  # Enter in a field starts nothing
        by_label(at.number_input, "Requests per second").set_value(10.0)
        by_label(at.number_input, "Duration, s").set_value(3)
        by_label(at.number_input, "In flight at most").set_value(6)
        by_label(at.number_input, "Photos").set_value(3)
        by_label(at.button, "Start load test").click().run()
        assert not at.error, [e.value for e in at.error]
        at.session_state[f"load_test_function_{DEFAULT_FUNCTION}"].wait(60)
        at.run()
    finally:
        lambda_client.delete_function_concurrency(FunctionName=DEFAULT_FUNCTION)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Throttled"]) > 0 and metrics["Failed"] == "0", metrics
    assert "Instances serving" not in metrics  # a function has no instances to count
    assert metrics["Sent per second"].endswith(" of 10")
    assert not any(w.value.startswith("Last failure") for w in at.warning)
    assert any(c.value.startswith("Last throttled request:") for c in at.caption)
