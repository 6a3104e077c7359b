"""The Monitor page with the cloud down: one message saying so and what to do, no traceback."""

from tests.pages.conftest import dashboard


def test_monitor_says_the_cloud_is_unreachable(dead_cloud: str) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/monitor.py").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"The cloud is down or unreachable at {dead_cloud}. Is localcloud running? `./dev run` starts it; "
        "for AWS, check the endpoint URL in the sidebar and your network."
    ]
