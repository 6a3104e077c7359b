"""The Evaluate page with the cloud down says so in words on each of its views, and refuses a guest before it reads
anything."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import dashboard


def open_page(**query: str) -> AppTest:
    at = dashboard().run()
    at.switch_page("app_pages/evaluate.py")
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_every_view_says_the_cloud_is_unreachable(dead_cloud: str) -> None:
    for at in (open_page(), open_page(evaluation="eval-20261201-000000-abcd-m"), open_page(job="some-job")):
        assert not at.exception, at.exception
        assert any("unreachable" in e.value for e in at.error), [e.value for e in at.error]
    at = open_page(tab="new")
    assert not at.exception
    assert any("unreachable" in e.value for e in at.error)  # the model list could not be read
    at.segmented_control(key="evaluate_tab").set_value("compare").run()
    assert not at.exception and any("unreachable" in e.value for e in at.error)


def test_a_guest_is_refused_before_anything_is_read(dead_cloud: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DASHBOARD_AUTH", "users")
    monkeypatch.setenv("DASHBOARD_USERS_FILE", str(tmp_path / "users.json"))
    at = open_page(endpoint="dog-breed-classifier")
    assert not at.exception
    assert [e.value for e in at.error if "unreachable" in e.value] == []  # nothing was asked of the cloud
    texts = [*(e.value for e in at.error), *(w.value for w in at.warning), *(i.value for i in at.info)]
    assert any("The Evaluate page is for operators" in text for text in texts), texts
