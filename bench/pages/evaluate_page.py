"""`./dev bench evaluate-page`: how long the Evaluate page takes to draw a kept evaluation of 1,000 photos over the
133 Udacity breeds (a 133 × 133 confusion matrix) once the results exist (aim: under 2 s), and where the time goes.

A fresh localcloud holds 1,000 real photos (the offline sample's, cycled into all 133 class folders) and an
evaluation kept as the page keeps one (evaluation.json and results.json beside the transform output). The results
are drawn as a 133-breed model errs: mostly right, wrong mostly towards a few look-alike breeds. Each timed run is
a new session opening `?evaluation=<name>`: reading the record and results from S3, every metric, the ordered
matrix, both charts and the first page of the misclassified gallery (12 photos read from S3), serialised as sent
to the browser.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from app.evaluation.evaluation_charts import confusion_figure
from bench import keep_results
from classifier.labels import udacity_folders
from services.core.clients import CloudSettings
from services.data.datasets import SAMPLE_DATASET, DatasetService
from services.evaluation.breed_names import canonical
from services.evaluation.confusion import confusion
from services.evaluation.evaluation_records import EvaluationRecord, record_key, results_key
from services.evaluation.photo_results import PhotoResult
from tests.clouds import running_localcloud
from tests.pages.conftest import dashboard

NAME = "eval-20261201-120000-beef-bench"
SET_PREFIX = "bench/evaluate-page/"


def photo_results(photos: int, seed: int = 0) -> list[PhotoResult]:
    """`photos` results over the 133 breeds: 70 % right, the rest mostly one of three look-alikes."""
    rng = random.Random(seed)
    breeds = [canonical(folder) for folder in udacity_folders()]
    folders = udacity_folders()
    look_alikes = {b: rng.sample(breeds, 3) for b in breeds}
    results = []
    for i in range(photos):
        index = i % len(breeds)
        truth = breeds[index]
        right = rng.random() < 0.7
        top1 = truth if right else rng.choice(look_alikes[truth] if rng.random() < 0.8 else breeds)
        named = [truth] if right or rng.random() < 0.8 else []  # a wrong answer misses the top 5 one time in five
        rest = [
            b for b in [*named, *look_alikes[truth], *rng.sample(breeds, 5)] if b not in {top1, truth} or b in named
        ]
        said = tuple(dict.fromkeys([top1, *rest]))[:5]
        first = min(0.99, max(0.05, rng.gauss(0.75 if right else 0.45, 0.15)))
        scores = tuple([first] + sorted((rng.uniform(0, 1 - first) / 4 for _ in said[1:]), reverse=True))
        key = f"{folders[index]}/photo-{i:04d}.jpg"
        results.append(PhotoResult(key, truth, said, scores, rng.random() > 0.03))
    return results


def keep(settings: CloudSettings, results: list[PhotoResult]) -> str:
    """Upload the photos and the kept evaluation; returns the bucket."""
    service = DatasetService(settings=settings)
    bucket = service.default_bucket()
    service.ensure_bucket(bucket)
    s3 = boto3.client("s3")
    sources = sorted(p for p in SAMPLE_DATASET.glob("*/*/*") if p.is_file())

    def put(item: tuple[int, PhotoResult]) -> None:
        index, result = item
        s3.upload_file(str(sources[index % len(sources)]), bucket, SET_PREFIX + result.key)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, enumerate(results)))
    record = EvaluationRecord(
        name=NAME,
        bucket=bucket,
        created="2026-12-01T12:00:00+00:00",
        model_kind="model",
        model_origin="bench-model",
        model_name="bench-model",
        model_data_url=f"s3://{bucket}/bench-model/model.tar.gz",
        set_uri=f"s3://{bucket}/{SET_PREFIX}",
        photos=len(results),
        classes=133,
        status="Completed",
        scored=len(results),
        top1=sum(r.correct for r in results) / len(results),
        top5=sum(r.in_top5 for r in results) / len(results),
    )
    s3.put_object(Bucket=bucket, Key=record_key(NAME), Body=json.dumps(record.to_json()).encode())
    s3.put_object(Bucket=bucket, Key=results_key(NAME), Body=json.dumps([r.to_json() for r in results]).encode())
    return bucket


def timed(action, runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench evaluate-page", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    results = photo_results(args.photos)
    with (
        tempfile.TemporaryDirectory(prefix="bench-evaluate-page-") as scratch,
        running_localcloud(Path(scratch)) as cloud,
    ):
        os.environ.update(cloud.env())
        os.environ["DASHBOARD_AUTH"] = "none"  # every session an operator, as in the page tests
        keep(CloudSettings(cloud.endpoint_url, "us-east-1", None), results)

        def page() -> None:
            app = dashboard()
            app.run()
            app.switch_page("app_pages/evaluate.py")
            app.query_params["evaluation"] = NAME
            start = time.perf_counter()
            app.run()
            page_seconds.append(time.perf_counter() - start)
            if app.exception or app.error:
                raise SystemExit(f"the page failed: {[e.value for e in [*app.exception, *app.error]]}")
            drawn = {m.label for m in app.metric}
            if not {"Top-1 accuracy", "Expected calibration error"} <= drawn or len(app.get("plotly_chart")) < 2:
                raise SystemExit(f"the page did not draw the results: {sorted(drawn)}")

        page_seconds: list[float] = []
        timed(page, args.runs + 1)  # the first run imports plotly and pandas: left out
        matrix = confusion(results)
        matrix_s = timed(lambda: confusion(results), args.runs)
        figure_s = timed(lambda: confusion_figure(matrix).to_json(), args.runs)
    draw = page_seconds[1:]
    report = {
        "photos": args.photos,
        "breeds": len(matrix.breeds),
        "runs": args.runs,
        "page_median_s": round(statistics.median(draw), 3),
        "page_min_s": round(min(draw), 3),
        "page_max_s": round(max(draw), 3),
        "page_first_run_s": round(page_seconds[0], 3),
        "target_s": 2.0,
        "median_vs_target": round(statistics.median(draw) / 2.0, 2),
        "confusion_and_order_median_s": round(statistics.median(matrix_s), 4),
        "confusion_figure_json_median_s": round(statistics.median(figure_s), 4),
        "confusion_figure_json_kb": round(len(confusion_figure(matrix).to_json()) / 1024, 1),
    }
    print(json.dumps(report, indent=2))
    keep_results("evaluate-page", report)


if __name__ == "__main__":
    main()
