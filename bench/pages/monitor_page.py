"""`./dev bench monitor-page`: how long the Monitor page takes to draw a day of 10,000 captured requests (aim:
under 3 s), on a fresh localcloud serving a model trained here (so the page draws drift against its training set).

A day's captures are written as the endpoint would: one file a minute (`--files-per-hour`), each record a real
photo of the shared sets with the endpoint's real answer to it (the distinct photos are sent to the endpoint once,
then repeated over the day). The page is drawn as a visitor draws it (Streamlit's test runner, the whole app) by
picking that day; timed: the first draw, which summarises every capture file once and stores the summaries;
draws by a fresh dashboard process (summaries read from S3); and redraws in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bench import keep_results
from services.monitoring import capture_store
from tests.captures import CONTENT_TYPES, capture_key, capture_line, real_photos
from tests.clouds import running_localcloud
from tests.monitored import CAPTURE_BUCKET, serve_trained_model, turn_capture_on

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"
ENDPOINT = "bench-monitored"


def write_day(cloud, day: datetime, requests: int, files_per_hour: int, distinct: int) -> int:
    """`requests` capture records spread evenly over `day`, in `files_per_hour` files an hour; bytes written."""
    runtime = cloud.client("sagemaker-runtime")
    answered = []
    for photo in real_photos(distinct - 4, negatives=4):
        body = photo.read_bytes()
        kind = CONTENT_TYPES[photo.suffix.lower()]
        answer = json.loads(runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=body, ContentType=kind)["Body"].read())
        answered.append((body, kind, answer))
    s3, files, written = cloud.client("s3"), 24 * files_per_hour, 0
    step = timedelta(days=1) / requests
    for f in range(files):
        start = day + timedelta(hours=f // files_per_hour, minutes=(f % files_per_hour) * 60 // files_per_hour)
        lines = [
            capture_line(*answered[i % len(answered)], day + i * step, inference_id=f"visit-{i}")
            for i in range(f * requests // files, (f + 1) * requests // files)
        ]
        body = ("\n".join(lines) + "\n").encode()
        s3.put_object(Bucket=CAPTURE_BUCKET, Key=capture_key("datacapture", ENDPOINT, "AllTraffic", start), Body=body)
        written += len(body)
    return written


def draw(day: datetime) -> float:
    """Open the Monitor page on the endpoint, then time the run that draws `day`."""
    app = AppTest.from_file(str(APP), default_timeout=300).run()
    app.switch_page("app_pages/monitor.py").run()
    app.selectbox(key="monitor_endpoint").select(ENDPOINT).run()
    app.date_input(key="monitor_day").set_value(day.date())
    start = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - start
    if app.exception or app.error:
        raise SystemExit(f"the page failed: {[e.value for e in [*app.exception, *app.error]]}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench monitor-page", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--files-per-hour", type=int, default=60)
    parser.add_argument("--distinct-photos", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as scratch:
        cloud_args = ["--capture-flush-seconds", "1"]
        with running_localcloud(Path(scratch), cloud_args, endpoint="dog-breed-classifier") as cloud:
            serve_trained_model(cloud, ENDPOINT, "bench-monitor-base")
            turn_capture_on(cloud, ENDPOINT, "bench-monitor-base-model", f"s3://{CAPTURE_BUCKET}/datacapture")
            written = write_day(cloud, day, args.requests, args.files_per_hour, args.distinct_photos)
            os.environ.update(cloud.env())
            os.environ["DASHBOARD_AUTH"] = "none"  # as the page tests run it: sign-in is not what is timed
            first = draw(day)  # every capture file summarised once, summaries stored beside them
            fresh, same = [], []
            for _ in range(args.runs):
                capture_store._hour_memo.clear()  # a dashboard process that has not read these summaries yet
                fresh.append(draw(day))
                same.append(draw(day))
    results = {
        "requests": args.requests,
        "capture_files": 24 * args.files_per_hour,
        "captured_mb": round(written / 2**20, 1),
        "first_draw_summarising_s": round(first, 3),
        "fresh_process_median_s": round(statistics.median(fresh), 3),
        "same_process_median_s": round(statistics.median(same), 3),
        "fresh_process_max_s": round(max(fresh), 3),
        "first_over_fresh": round(first / statistics.median(fresh), 1),
        "runs": args.runs,
        "target_s": 3.0,
    }
    print(json.dumps(results, indent=2))
    keep_results("monitor-page", results)


if __name__ == "__main__":
    main()
