"""`./dev bench transform`: batch transform's throughput against the bare model's, on the same photos, side by side.

Starts a fresh localcloud in a temp dir with the real classifier as a SageMaker model and `--photos` photos of the
dogs-wiki-133 test split (one per breed, in turn) in S3. In interleaved rounds it times: the bare model in-process,
sequentially (decode + preprocess + forward, no HTTP, no S3: the floor); a transform job on one instance that has
the machine's cores (`--one`, ml.m5.xlarge: 4 vCPUs, 2 cores at localcloud's 2 vCPUs a core); one on two instances
with a core each (`--two`, ml.m5.large); and one on two `--one` instances that share all the cores (on a machine
others use too, neither is then stuck on a busy core). A job's rate counts from TransformStartTime (its instances
answer) to TransformEndTime; `with_start` counts from CreateTransformJob, so the instances' start is in it.
The CPU a photo costs (localcloud and its instances together, less what a job of one photo costs) against the
bare model's says what the rate would be on a machine of its own, which a shared one's timings cannot. Prints
medians and ratios to the bare model, and writes them to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench import keep_results
from bench.serving.bench_model import DEFAULT_ONNX
from classifier.serving.model import DogBreedModel
from tests.channels import DATASET
from tests.clouds import running_localcloud, sagemaker_role
from tests.localcloud.sagemaker.transform.helpers import BUCKET, classifier_archive, create_model, request, wait_job


def pick_photos(count: int) -> list[Path]:
    """`count` photos of the test split: the first of each breed, then the second, and so on."""
    folders = [sorted(d.iterdir()) for d in sorted((DATASET / "test").iterdir()) if d.is_dir()]
    chosen: list[Path] = []
    for depth in range(max(len(f) for f in folders)):
        chosen += [files[depth] for files in folders if depth < len(files)]
    return chosen[:count]


def bare_rate(model: DogBreedModel, images: list[bytes]) -> tuple[float, float]:
    """Photos a second, the bare model classifying them one after another, and the CPU ms each took."""
    start, cpu = time.perf_counter(), time.process_time()
    for data in images:
        model.predict_bytes(data)
    return len(images) / (time.perf_counter() - start), 1000 * (time.process_time() - cpu) / len(images)


def cpu_seconds(pid: int) -> float:
    """CPU time of localcloud and of its instances that have ended (an instance is reaped when its job ends)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def transform_rate(cloud: Any, name: str, setup: tuple[str, int], concurrency: int, prefix: str, count: int) -> dict:
    """One transform job over the `count` photos under `prefix`: photos a second in the job, counting its instances'
    start, and the CPU seconds it cost localcloud and its instances."""
    instance_type, instances = setup
    created, cpu = time.time(), cpu_seconds(cloud.process.pid)
    cloud.client("sagemaker").create_transform_job(
        **request(
            name,
            "classifier",
            f"s3://{BUCKET}/{prefix}",
            f"s3://{BUCKET}/out/{name}/",
            ContentType="image/jpeg",
            InstanceType=instance_type,
            InstanceCount=instances,
            MaxConcurrentTransforms=concurrency,
        )
    )
    job = wait_job(cloud, name, timeout=600, poll_s=1.0)  # its times are the job's own: polling less disturbs less
    if job["TransformJobStatus"] != "Completed":
        raise RuntimeError(f"{name} ended {job['TransformJobStatus']}: {job.get('FailureReason')}")
    ended = job["TransformEndTime"].timestamp()
    return {
        "rate": count / (ended - job["TransformStartTime"].timestamp()),
        "with_start": count / (ended - created),
        "cpu_s": cpu_seconds(cloud.process.pid) - cpu,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    photos = pick_photos(args.photos)
    images = [p.read_bytes() for p in photos]
    model = DogBreedModel.load(DEFAULT_ONNX)
    bare_rate(model, images[:5])  # warm-up
    setups = {
        f"1 x {args.one}": (args.one, 1),
        f"2 x {args.two}": (args.two, 2),
        f"2 x {args.one}, sharing": (args.one, 2),  # both on all the cores: neither is stuck on a busy one
    }
    bare_label = "bare model, sequential"
    rates: dict[str, list[float]] = {bare_label: []}
    with_start: dict[str, list[float]] = {}
    cpu_ms: dict[str, list[float]] = {bare_label: []}
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), ["--no-defaults"]) as cloud:
        sagemaker_role(cloud)
        create_model(cloud, "classifier", classifier_archive())
        s3 = cloud.client("s3")
        for photo, data in zip(photos, images, strict=True):
            s3.put_object(Bucket=BUCKET, Key=f"photos/{photo.parent.name}/{photo.name}", Body=data)
        s3.put_object(Bucket=BUCKET, Key="one/photo.jpg", Body=images[0])
        transform_rate(cloud, "warm-up", setups[f"1 x {args.one}"], args.concurrency, "photos/", len(photos))
        # What a job costs besides its photos (its instances' start, above all), from a job of one photo.
        fixed = {
            label: transform_rate(cloud, f"fixed-{n}", setup, args.concurrency, "one/", 1)["cpu_s"]
            for n, (label, setup) in enumerate(setups.items())
        }
        for round_number in range(args.rounds):
            rate, cpu = bare_rate(model, images)
            rates[bare_label].append(rate)
            cpu_ms[bare_label].append(cpu)
            for n, (label, setup) in enumerate(setups.items()):
                measured = transform_rate(
                    cloud, f"r{round_number}-{n}", setup, args.concurrency, "photos/", len(photos)
                )
                rates.setdefault(label, []).append(measured["rate"])
                with_start.setdefault(label, []).append(measured["with_start"])
                cpu_ms.setdefault(label, []).append(1000 * (measured["cpu_s"] - fixed[label]) / (len(photos) - 1))
    bare_rounds = rates[bare_label]
    bare, bare_cpu = statistics.median(bare_rounds), statistics.median(cpu_ms[bare_label])
    table = {}
    for label, values in rates.items():
        cpu = statistics.median(cpu_ms[label])
        table[label] = {
            "photos_per_s_median": round(statistics.median(values), 1),
            "ratio_to_bare": round(statistics.median(values) / bare, 2),
            # Each round's job against the bare model timed just before it: steadier on a shared machine.
            "ratio_per_round_median": round(
                statistics.median(v / b for v, b in zip(values, bare_rounds, strict=True)), 2
            ),
            "with_start_photos_per_s": round(statistics.median(with_start[label]), 1) if label in with_start else None,
            # CPU a photo costs, all processes together: what the rate would be on a machine of its own.
            "cpu_ms_per_photo": round(cpu, 1),
            "bare_cpu_over_this": round(bare_cpu / cpu, 2),
            "rounds": [round(v, 1) for v in values],
        }
    return {"photos": len(photos), "max_concurrent_transforms": args.concurrency, "results": table}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench transform", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60, help="photos of the test split to transform")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of bare model, one and two instances")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="MaxConcurrentTransforms per instance (AWS's default is 1; with 2 a request waits at the instance "
        "while the one before it is answered, which hides the hand-offs between processes on a busy machine)",
    )
    parser.add_argument("--one", default="ml.m5.xlarge", help="instance type of the one-instance job")
    parser.add_argument("--two", default="ml.m5.large", help="instance type of the two-instance job")
    results = run(parser.parse_args(argv))
    print(f"{'':30} {'photos/s':>9} {'x bare':>7} {'by round':>9} {'with start':>11} {'CPU ms':>7} {'bare/CPU':>9}")
    for label, row in results["results"].items():
        print(
            f"{label:30} {row['photos_per_s_median']:9.1f} {row['ratio_to_bare']:7.2f} "
            f"{row['ratio_per_round_median']:9.2f} {row['with_start_photos_per_s'] or '':>11} "
            f"{row['cpu_ms_per_photo']:7.1f} {row['bare_cpu_over_this']:9.2f}"
        )
    print(json.dumps(results, indent=2))
    out = keep_results("transform", results)
    print(f"wrote {out}")
