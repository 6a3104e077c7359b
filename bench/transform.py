"""`./dev bench transform`: batch transform's throughput against the bare model's, on the same photos, side by side.

Starts a fresh localcloud in a temp dir with the real classifier as a SageMaker model and `--photos` photos of the
dogs-wiki-133 test split (one per breed, in turn) in S3. In interleaved rounds it times: the bare model in-process,
sequentially (decode + preprocess + forward, no HTTP, no S3: the floor); a transform job on one instance that has
the machine's cores (`--one`, ml.m5.xlarge: 4 vCPUs, 2 cores at localcloud's 2 vCPUs a core); one on two instances
with a core each (`--two`, ml.m5.large); and one on two `--one` instances that share all the cores (on a machine
others use too, neither is then stuck on a busy core). A job's rate counts from TransformStartTime (its instances
answer) to TransformEndTime; `with_start` counts from CreateTransformJob, so the instances' start is in it.
Prints medians and ratios to the bare model, and writes them to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_model import DEFAULT_ONNX
from classifier.serving.model import DogBreedModel
from tests.channels import DATASET
from tests.clouds import running_localcloud, sagemaker_role
from tests.localcloud.sagemaker.transform.helpers import BUCKET, classifier_archive, create_model, request, wait_job

RESULTS = Path(__file__).resolve().parent / "results"


def pick_photos(count: int) -> list[Path]:
    """`count` photos of the test split: the first of each breed, then the second, and so on."""
    folders = [sorted(d.iterdir()) for d in sorted((DATASET / "test").iterdir()) if d.is_dir()]
    chosen: list[Path] = []
    for depth in range(max(len(f) for f in folders)):
        chosen += [files[depth] for files in folders if depth < len(files)]
    return chosen[:count]


def bare_rate(model: DogBreedModel, images: list[bytes]) -> float:
    """Photos a second, the bare model classifying them one after another."""
    start = time.perf_counter()
    for data in images:
        model.predict_bytes(data)
    return len(images) / (time.perf_counter() - start)


def transform_rate(cloud: Any, name: str, instance_type: str, instances: int, concurrency: int, count: int) -> dict:
    """One transform job over the photos: photos a second in the job, and counting its instances' start."""
    created = time.time()
    cloud.client("sagemaker").create_transform_job(
        **request(
            name,
            "classifier",
            f"s3://{BUCKET}/photos/",
            f"s3://{BUCKET}/out/{name}/",
            ContentType="image/jpeg",
            InstanceType=instance_type,
            InstanceCount=instances,
            MaxConcurrentTransforms=concurrency,
        )
    )
    job = wait_job(cloud, name, timeout=600)
    if job["TransformJobStatus"] != "Completed":
        raise RuntimeError(f"{name} ended {job['TransformJobStatus']}: {job.get('FailureReason')}")
    ended = job["TransformEndTime"].timestamp()
    return {"rate": count / (ended - job["TransformStartTime"].timestamp()), "with_start": count / (ended - created)}


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
    samples: dict[str, list[float]] = {"bare model, sequential": []}
    with_start: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), ["--no-defaults"]) as cloud:
        sagemaker_role(cloud)
        create_model(cloud, "classifier", classifier_archive())
        s3 = cloud.client("s3")
        for photo, data in zip(photos, images, strict=True):
            s3.put_object(Bucket=BUCKET, Key=f"photos/{photo.parent.name}/{photo.name}", Body=data)
        transform_rate(cloud, "warm-up", args.one, 1, args.concurrency, len(photos))  # model unpacked, files cached
        for round_number in range(args.rounds):
            samples["bare model, sequential"].append(bare_rate(model, images))
            for label, (instance_type, count) in setups.items():
                name = f"r{round_number}-{count}-{instance_type.replace('.', '-')}"
                measured = transform_rate(cloud, name, instance_type, count, args.concurrency, len(photos))
                samples.setdefault(label, []).append(measured["rate"])
                with_start.setdefault(label, []).append(measured["with_start"])
    bare_rounds = samples["bare model, sequential"]
    bare = statistics.median(bare_rounds)
    table = {
        label: {
            "photos_per_s_median": round(statistics.median(values), 1),
            "ratio_to_bare": round(statistics.median(values) / bare, 2),
            # Each round's job against the bare model timed just before it: steadier on a shared machine.
            "ratio_per_round_median": round(
                statistics.median(v / b for v, b in zip(values, bare_rounds, strict=True)), 2
            ),
            **(
                {"with_start_photos_per_s": round(statistics.median(with_start[label]), 1)}
                if label in with_start
                else {}
            ),
            "rounds": [round(v, 1) for v in values],
        }
        for label, values in samples.items()
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
    print(f"{'':30} {'photos/s':>9} {'x bare':>7} {'x bare, by round':>17} {'with start':>11}")
    for label, row in results["results"].items():
        print(
            f"{label:30} {row['photos_per_s_median']:9.1f} {row['ratio_to_bare']:7.2f} "
            f"{row['ratio_per_round_median']:17.2f} {row.get('with_start_photos_per_s', ''):>11}"
        )
    print(json.dumps(results, indent=2))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"transform-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
