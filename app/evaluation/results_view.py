"""An evaluation's results: accuracy with its interval, per-breed scores, the breeds never got right, the confusion
matrix (click a cell for its photos), calibration and the misclassified photos. Drawn from photo results alone, so
the live view of a running transform and the kept results of an ended one look the same."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from app.evaluation.evaluation_charts import confusion_figure, reliability_figure
from app.evaluation.photo_gallery import gallery
from app.widgets.formatting import MISSING, percent
from services.evaluation.breed_names import display
from services.evaluation.confusion import confusion, most_confused
from services.evaluation.evaluation_records import EvaluationRecord
from services.evaluation.metrics import Rate, calibration, never_right, not_a_dog, per_breed, rate
from services.evaluation.photo_results import PhotoResult


def interval(found: Rate) -> str:
    return f"95 % CI {percent(found.low)}–{percent(found.high)} ({found.hits} of {found.total})"


def headline(results: Sequence[PhotoResult], record: EvaluationRecord) -> None:
    top1 = rate(sum(r.correct for r in results), len(results))
    top5 = rate(sum(r.in_top5 for r in results), len(results))
    first, fifth, dogs = st.columns(3)
    first.metric("Top-1 accuracy", percent(top1.value), help="Wilson score interval", border=True)
    first.caption(interval(top1))
    fifth.metric("Top-5 accuracy", percent(top5.value), help="the photo's breed among the first five", border=True)
    fifth.caption(interval(top5))
    missed = not_a_dog(results)
    dogs.metric('Called "not a dog"', f"{missed} of {len(results)}", border=True)
    dogs.caption("every photo of a breed set is a dog: each of these is a miss" if missed else "no dog was missed")
    if record.unknown_classes:
        st.warning(
            f"The model cannot name {len(record.unknown_classes)} of the set's {record.classes} breeds "
            f"({', '.join(display(c) for c in record.unknown_classes[:6])}"
            f"{'…' if len(record.unknown_classes) > 6 else ''}): their photos count as wrong."
        )


def breed_table(results: Sequence[PhotoResult]) -> None:
    scores = per_breed(results)
    st.markdown("#### Breed by breed")
    frame = pd.DataFrame(
        {
            "Breed": [display(s.breed) for s in scores],
            "Photos": [s.photos for s in scores],
            "Said": [s.said for s in scores],
            "Right": [s.right for s in scores],
            "Precision": [s.precision for s in scores],
            "Recall": [s.recall for s in scores],
            "F1": [s.f1 for s in scores],
        }
    )
    ratio = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={"Precision": ratio, "Recall": ratio, "F1": ratio},
        placeholder=MISSING,
        height=min(420, 38 + 35 * len(frame)),
    )
    st.caption(
        f"Click a column header to sort. Said: photos the model named as this breed. {MISSING}: no photo of it, or "
        "never said."
    )
    never = never_right(scores)
    if never:
        names = ", ".join(f"{display(s.breed)} ({s.photos})" for s in never)
        breeds = "1 breed" if len(never) == 1 else f"{len(never)} breeds"
        st.markdown(f"**Never right** ({breeds}, photos in brackets): {names}")
    else:
        st.markdown("**Never right**: none, every breed was named right at least once.")


def selected_cells(event: object, breeds: Sequence[str]) -> set[tuple[str, str]]:
    """(is, said) of the cells selected on the chart; a point names its cell by the axis labels it sits on."""
    by_name = {display(b): b for b in breeds}
    selection = getattr(event, "selection", None) or {}
    points = selection.get("points", []) if isinstance(selection, dict) else getattr(selection, "points", [])
    return {
        (by_name[p["y"]], by_name[p["x"]])
        for p in points
        if isinstance(p, dict) and p.get("y") in by_name and p.get("x") in by_name
    }


def confusion_part(results: Sequence[PhotoResult], record: EvaluationRecord, key: str) -> None:
    st.markdown("#### Confusion")
    matrix = confusion(results)
    event = st.plotly_chart(
        confusion_figure(matrix),
        width="stretch",
        key=f"{key}_confusion",
        on_select="rerun",
        selection_mode=("points", "box"),
    )
    pairs = most_confused(matrix)
    if pairs:
        st.markdown(
            "**Most confused**: " + "; ".join(f"{display(a)} taken for {display(b)} ({n})" for a, b, n in pairs)
        )
    cells = selected_cells(event, matrix.breeds)
    if cells:
        chosen = [r for r in results if (r.truth, r.top1) in cells]
        title = ", ".join(f"{display(t)} said {display(s)}" for t, s in sorted(cells)[:4])
        st.markdown(f"**{len(chosen)} photo(s) in the selected cell(s)**: {title}{'…' if len(cells) > 4 else ''}")
        gallery(chosen, record, f"{key}_cell")
    else:
        st.caption("Drag to zoom, double-click to zoom out; click a cell (or box-select cells) to see its photos.")


def calibration_part(results: Sequence[PhotoResult]) -> None:
    st.markdown("#### Calibration")
    found = calibration(results)
    st.metric(
        "Expected calibration error",
        f"{found.ece:.3f}",
        help="photo-weighted mean gap between the first answer's score and how often it was right (10 bins)",
    )
    st.plotly_chart(reliability_figure(found), width="stretch")


def mistakes_part(results: Sequence[PhotoResult], record: EvaluationRecord, key: str) -> None:
    wrong = [r for r in results if not r.correct]
    st.markdown(f"#### Misclassified photos ({len(wrong)})")
    if not wrong:
        st.caption("None: every photo was named right.")
        return
    gallery(wrong, record, f"{key}_wrong")


def results_view(results: Sequence[PhotoResult], record: EvaluationRecord, key: str) -> None:
    """Everything about `results` (at least one photo)."""
    headline(results, record)
    breed_table(results)
    confusion_part(results, record, key)
    calibration_part(results)
    mistakes_part(results, record, key)
