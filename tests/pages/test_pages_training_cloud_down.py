"""Data, Train and Job pages with the cloud down: one clear message each, no traceback."""

from tests.pages.conftest import dashboard


def page(path: str, **query):
    at = dashboard().run()
    at.switch_page(path)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def unreachable(at) -> bool:
    return any("unreachable" in e.value and "localcloud" in e.value for e in at.error)


def test_data_page(dead_cloud) -> None:
    at = page("app_pages/data.py")
    assert not at.exception
    assert unreachable(at)


def test_train_page(dead_cloud) -> None:
    at = page("app_pages/train.py")
    assert not at.exception
    assert unreachable(at)
    at.button(key="train_launch").click().run()  # launching still explains itself
    assert not at.exception
    assert unreachable(at)


def test_job_page(dead_cloud) -> None:
    at = page("app_pages/job.py", job="dog-breed-1")
    assert not at.exception
    assert unreachable(at)


def test_job_page_refuses_a_bad_name(dead_cloud) -> None:
    at = page("app_pages/job.py", job="not_a_job!")
    assert not at.exception
    assert "not a valid training job name" in at.error[0].value
