"""`./dev bench <suite> [options]` (prediction, explain, capture, training, lambda, tuning, tuning-page,
evaluate-page, monitor-page, transform, scaling, debugging, flame, memory-soak): speed targets, side by side;
flame graphs; memory under an hour of load."""

from __future__ import annotations

import sys

from bench import debugging, training, tuning
from bench.pages import evaluate_page, monitor_page, tuning_page
from bench.serving import capture, explain, flame, lambda_concurrency, memory_soak, prediction, scaling, transform

SUITES = {
    "prediction": prediction.main,
    "explain": explain.main,
    "capture": capture.main,
    "training": training.main,
    "lambda": lambda_concurrency.main,
    "tuning": tuning.main,
    "tuning-page": tuning_page.main,
    "evaluate-page": evaluate_page.main,
    "monitor-page": monitor_page.main,
    "transform": transform.main,
    "scaling": scaling.main,
    "debugging": debugging.main,
    "flame": flame.main,
    "memory-soak": memory_soak.main,
}


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "prediction"
    if name not in SUITES:
        sys.exit(f"unknown benchmark {name!r}; choose one of {', '.join(SUITES)}")
    SUITES[name](sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == name else sys.argv[1:])


if __name__ == "__main__":
    main()
