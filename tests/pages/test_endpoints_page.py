"""The Endpoints page under AppTest against a real localcloud with a one-second metric period."""

from __future__ import annotations

from tests.conftest import DEFAULT_ENDPOINT
from tests.pages.conftest import dashboard


def test_the_list_shows_every_variant_with_counts_cost_and_the_short_period(fast_env) -> None:
    at = dashboard()
    at.switch_page("pages/endpoints.py").run()
    assert not at.exception and not at.error
    assert any("metric period is 1 s" in i.value for i in at.info)
    table = at.dataframe[0].value
    row = table[table["endpoint"] == DEFAULT_ENDPOINT].iloc[0]
    assert (row["status"], row["current"], row["desired"]) == ("InService", "1", "1")
    assert row["instance type"] and row["cost per hour"].startswith("$")
    links = [link.proto for link in at.get("page_link") if link.proto.label.startswith(DEFAULT_ENDPOINT)]
    assert links and links[0].page.endswith("endpoints")


def test_the_detail_view_shows_lineage_and_live_charts(fast_env) -> None:
    at = dashboard()
    at.query_params["endpoint"] = DEFAULT_ENDPOINT
    at.switch_page("pages/endpoints.py").run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["model"]) == ["dog-breed-efficientnet-lite0"]
    assert any("ImageNet's 118 dog classes" in m.value for m in at.markdown)
    assert any("Model and overhead latency" in m.value for m in at.markdown)


def test_an_unknown_endpoint_is_explained(fast_env) -> None:
    at = dashboard()
    at.query_params["endpoint"] = "no-such-endpoint"
    at.switch_page("pages/endpoints.py").run()
    assert not at.exception
    assert "no-such-endpoint" in at.error[0].value
