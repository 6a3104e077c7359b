"""The speed benchmarks (`./dev bench NAME`); each keeps its numbers in bench/results/."""

import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def keep_results(name: str, results: Any) -> Path:
    """Write a run's numbers to bench/results/NAME-<date>-<time>.json; the file's path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    return out
