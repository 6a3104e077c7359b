"""The Monitor page on the endpoint localcloud starts with (the stock ImageNet model, made by no training job here),
capturing real photos: what an operator meets first. The page says there is no drift score or alarm and why, how
many of the queue it shows, and the endpoint view links to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.core.process import LocalCloudProcess
from tests.captures import real_photos
from tests.channels import DATASETS, complete_breeds, required, upload_breeds
from tests.clouds import point_boto3_at, running_localcloud
from tests.monitored import CAPTURE_BUCKET, send, turn_capture_on, wait_captured
from tests.pages.conftest import dashboard

ENDPOINT = "dog-breed-classifier"
SENT = 8  # more than the review queue shows at once (app/monitoring/review_view.py: QUEUE_SHOWN)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[LocalCloudProcess]:
    required(DATASETS)
    with running_localcloud(
        tmp_path_factory.mktemp("monitor-stock"), ["--capture-flush-seconds", "1"], endpoint=ENDPOINT
    ) as cloud:
        turn_capture_on(cloud, ENDPOINT, "dog-breed-efficientnet-lite0", f"s3://{CAPTURE_BUCKET}/data-capture")
        send(cloud, ENDPOINT, real_photos(SENT))
        wait_captured(cloud, CAPTURE_BUCKET, f"data-capture/{ENDPOINT}/", SENT)
        yield cloud


@pytest.fixture
def env(cloud, monkeypatch) -> LocalCloudProcess:
    return point_boto3_at(cloud, monkeypatch)


def test_the_stock_endpoint_says_why_it_has_no_drift_and_how_much_of_the_queue_it_shows(env) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/monitor.py")
    at.query_params["endpoint"] = ENDPOINT
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    captions = [c.value for c in at.caption]
    assert any("no drift score and no drift alarm" in c and "trained on the Train page" in c for c in captions)
    assert not any("Drift alarm" in m.value for m in at.markdown)  # no alarm form without a baseline
    assert "Read from 1 capture file through its summary" in " ".join(captions)
    queue = [m.value for m in at.markdown if m.value.startswith("**To review**")]
    assert queue == [
        f"**To review**: {SENT} of this day's least confident answers, lowest first (the 6 least confident here; "
        "the next come as these are reviewed)"
    ]
    assert len([b for b in at.button if str(b.key).endswith("_not_dog")]) == 6


def test_the_endpoint_view_links_to_its_monitor_page(env) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/endpoints.py")
    at.query_params["endpoint"] = ENDPOINT
    at.run()
    assert not at.exception
    links = {(link.proto.label, link.proto.query_string) for link in at.get("page_link")}
    assert ("Monitor what it is sent and answers", f"endpoint={ENDPOINT}") in links, links


def test_reviews_of_a_model_trained_elsewhere_join_a_chosen_dataset(env) -> None:
    """The stock model's training set is not known here: the operator picks one of the Data page's datasets as the
    version the reviewed photos join."""
    upload_breeds(env.client("s3"), CAPTURE_BUCKET, "datasets/picked", complete_breeds(2))
    at = dashboard().run()
    at.switch_page("app_pages/monitor.py")
    at.query_params["endpoint"] = ENDPOINT
    at.run()
    pick = next(b for b in at.selectbox if str(b.key).endswith("_pick"))
    pick.select(next(o for o in pick.options if "dog" not in o.lower())).run()  # a breed, whatever the model said
    at.button(key=str(pick.key).removesuffix("_pick") + "_save").click().run()
    base = f"s3://{CAPTURE_BUCKET}/datasets/picked/"
    choice = at.selectbox(key="monitor_dataset_base")
    assert choice.options[0].startswith("none") and base in choice.options
    choice.select(base).run()
    at.button(key="monitor_add_dataset").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    made = f"s3://{CAPTURE_BUCKET}/datasets/picked-reviewed/"
    assert any(s.value.startswith(made) and "and 1 reviewed ones" in s.value for s in at.success), [
        s.value for s in at.success
    ]
