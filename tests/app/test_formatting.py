"""How names, times, sizes and breeds read on the pages (app/widgets/formatting.py, breed_names.display)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.widgets.formatting import SMALLEST_PERCENT, literal, percent, timestamp
from classifier.labels import imagenet_labels, udacity_labels
from services.evaluation.breed_names import display


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("dalmatian", "Dalmatian"),  # ImageNet, lower case
        ("EntleBucher", "Entlebucher"),  # ImageNet, odd capital
        ("Great_pyrenees", "Great Pyrenees"),  # Udacity
        ("Great_Pyrenees", "Great Pyrenees"),  # ImageNet through the model's underscores
        ("black-and-tan_coonhound", "Black-and-Tan Coonhound"),
        ("Black_and_tan_coonhound", "Black and Tan Coonhound"),
        ("Bouvier_des_flandres", "Bouvier des Flandres"),
        ("Glen_of_imaal_terrier", "Glen of Imaal Terrier"),
        ("Shih-Tzu", "Shih-Tzu"),
        ("Chinese_shar-pei", "Chinese Shar-Pei"),
    ],
)
def test_every_model_s_labels_read_in_one_form(label: str, shown: str) -> None:
    assert display(label) == shown


def test_the_same_breed_reads_the_same_from_both_class_lists() -> None:
    """The stock model speaks ImageNet's names, a trained one Udacity's: a breed both know looks the same."""
    imagenet = {display(name) for name in imagenet_labels()[151:269]}
    udacity = {display(name) for name in udacity_labels()}
    shared = imagenet & udacity
    assert {"Dalmatian", "Great Pyrenees", "Afghan Hound", "Golden Retriever", "Bernese Mountain Dog"} <= shared
    assert all(name == display(name) for name in imagenet | udacity)  # the form is a fixed point


def test_one_timestamp_form_in_utc() -> None:
    moment = datetime(2026, 5, 9, 9, 35, 25, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(moment) == "2026-05-09 07:35:25 UTC"
    assert timestamp(moment.astimezone(UTC).replace(tzinfo=None)) == "2026-05-09 07:35:25 UTC"
    assert timestamp(None) == ""


@pytest.mark.parametrize(
    ("text", "code"),
    [("http://10.0.0.1/dog.jpg", "`http://10.0.0.1/dog.jpg`"), ("http://x/`a`", "`` http://x/`a` ``")],
)
def test_a_literal_is_inline_code_whatever_it_holds(text: str, code: str) -> None:
    assert literal(text) == code


@given(st.floats(min_value=0.0, max_value=1.0))
def test_a_score_reads_as_its_value_however_small(score: float) -> None:
    """Two significant digits under 1 %: a breed a cat scores at 0.00031 reads 0.031%, not 0.0%."""
    text = percent(score)
    shown = score * 100
    if shown == 0:
        assert text == "0%"
    elif shown < SMALLEST_PERCENT:
        assert text == "< 0.0001%"
    else:
        value = float(text.removesuffix("%"))
        assert value > 0 and "e" not in text
        assert abs(value - shown) <= (0.5 if shown >= 1 else 0.05 * shown)
